package upstream

import (
	"crypto/tls"
	"io"
	"time"

	"github.com/valyala/fasthttp"
)

// Warm connects to the provider's host once the way a call would and
// closes the connection: fasthttp's dialer caches the host's address, and
// for https a full TLS handshake fills the provider's session cache, so
// the first call resumes a session instead of paying a full handshake
// and a DNS lookup. TLS 1.3 sends its session tickets after the
// handshake, and a client takes them only while reading, so Warm asks
// for the host's root with HEAD (no key, Connection: close) and reads the
// answer. It runs off the request path (main starts it for
// every enabled provider) and returns why a host cannot be reached.
func (p *Provider) Warm() error {
	if p.client == nil {
		return nil // disabled: nothing to warm
	}
	timeout := p.cfg.Timeouts.Connect.D()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	conn, err := fasthttp.DialTimeout(p.client.Addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if !p.client.IsTLS {
		return nil
	}
	tc := tls.Client(conn, p.client.TLSConfig)
	if err := tc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if err := tc.Handshake(); err != nil {
		return err
	}
	if _, err := tc.Write([]byte("HEAD / HTTP/1.1\r\nHost: " + p.client.TLSConfig.ServerName + "\r\nUser-Agent: switchboard\r\nConnection: close\r\n\r\n")); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(tc, 64<<10)) // the tickets come first; the answer is of no interest
	return nil
}
