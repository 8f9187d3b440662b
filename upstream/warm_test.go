package upstream

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
)

// sec5 bounds each step of the test calls.
const sec5 = configs.Duration(5 * time.Second)

// TestWarmLetsTheFirstCallResumeTLS checks that after Warm the first call
// to an https provider resumes the TLS session Warm opened, where a
// provider not warmed pays a full handshake.
func TestWarmLetsTheFirstCallResumeTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "resumed=%v", r.TLS.DidResume)
	}))
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	firstCall := func(warm bool) string {
		p, err := New(configs.Provider{Name: "tls", BaseURL: srv.URL + "/v1", MaxConns: 4, Timeouts: configs.Timeouts{Connect: sec5, FirstByte: sec5, Idle: sec5, Total: sec5}})
		if err != nil {
			t.Fatal(err)
		}
		p.client.TLSConfig.RootCAs = roots
		if warm {
			if err := p.Warm(); err != nil {
				t.Fatalf("Warm: %v", err)
			}
		}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(srv.URL + "/v1/models")
		if err := p.client.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		return string(resp.Body())
	}
	if got := firstCall(false); got != "resumed=false" {
		t.Fatalf("first call without Warm: %q, want a full handshake", got)
	}
	if got := firstCall(true); got != "resumed=true" {
		t.Fatalf("first call after Warm: %q, want a resumed session", got)
	}
}

// TestWarmReportsAnUnreachableHost checks that Warm says why it could not
// connect rather than failing silently.
func TestWarmReportsAnUnreachableHost(t *testing.T) {
	p, err := New(configs.Provider{Name: "down", BaseURL: "http://127.0.0.1:1/v1", MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Warm(); err == nil {
		t.Fatal("Warm of a closed port returned no error")
	}
}
