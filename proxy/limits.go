package proxy

import (
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
)

// clientLimits are the server's defences against slow, greedy and bursty
// clients, the ones nginx has, beside what fasthttp does by itself
// (ReadBufferSize caps the header block; a Content-Length over
// MaxRequestBodySize is answered 413 before a byte of the body is read):
//
//   - server.header_timeout is fasthttp's ReadTimeout, which fasthttp arms
//     at accept and again at the first byte of each keep-alive request, so
//     it bounds the request line and headers;
//   - headerReceived, fasthttp's HeaderReceived hook, then replaces that
//     deadline with the body's own: read_timeout plus the body's length at
//     body_min_rate. fasthttp answers a read past either deadline through
//     Server.requestError: 408, connection closed.
//
// The body deadline is computed once from Content-Length rather than
// extended as bytes arrive (Apache's mod_reqtimeout): one SetReadDeadline
// per request instead of one per read, and the same verdict for a client
// that sends at the minimum rate. A chunked body, whose length is unknown,
// gets read_timeout alone.
type clientLimits struct {
	readTimeout time.Duration
	minRate     int // bytes per second
}

func newClientLimits(cfg configs.Server) *clientLimits {
	return &clientLimits{
		readTimeout: cfg.ReadTimeout.D(),
		minRate:     int(cfg.BodyMinRate),
	}
}

// headerReceived gives a request body its deadline, counted from now, the
// end of its headers: read_timeout, plus Content-Length at body_min_rate.
func (l *clientLimits) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	rc := fasthttp.RequestConfig{ReadTimeout: l.readTimeout}
	if n := h.ContentLength(); n > 0 {
		rc.ReadTimeout += transferTime(n, l.minRate)
	}
	return rc
}

// transferTime is how long n bytes take at rate bytes per second, capped
// at about 34 years so that no Content-Length overflows a Duration.
func transferTime(n, rate int) time.Duration {
	secs := min(n/rate, 1<<30)
	return time.Duration(secs)*time.Second + time.Duration(n%rate)*time.Second/time.Duration(rate)
}
