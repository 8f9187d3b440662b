package upstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Phase names the part of an upstream call that timed out.
type Phase string

// The phases of an upstream call, each with its own timeout.
const (
	PhaseConnect   Phase = "connect"
	PhaseFirstByte Phase = "first byte"
	PhaseIdle      Phase = "idle"
	PhaseTotal     Phase = "total"
)

// TimeoutError is an upstream call that ran out of time in Phase.
type TimeoutError struct {
	Phase Phase
}

func (e *TimeoutError) Error() string   { return "upstream " + string(e.Phase) + " timeout" }
func (e *TimeoutError) Timeout() bool   { return true }
func (e *TimeoutError) Temporary() bool { return false }

// Error is a failed upstream call. It knows the status to answer the client
// with (502 unreachable or broken, 504 timed out) and never carries the
// provider's key.
type Error struct {
	// Provider is the provider's name.
	Provider string
	// Status is 502, 503 or 504.
	Status int
	// Err is the cause, with details (addresses) fit for logs only.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("provider %q: %v", e.Provider, e.Err)
}

// Public describes the failure for the client without internal details
// such as addresses.
func (e *Error) Public() string {
	var te *TimeoutError
	reason := "provider call failed"
	switch {
	case errors.As(e.Err, &te):
		reason = te.Error()
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		reason = "connection refused"
	case errors.Is(e.Err, syscall.ECONNRESET), errors.Is(e.Err, io.ErrUnexpectedEOF), errors.Is(e.Err, io.EOF),
		errors.Is(e.Err, fasthttp.ErrConnectionClosed), errors.Is(e.Err, syscall.EPIPE):
		reason = "provider closed the connection"
	case errors.Is(e.Err, errDisabled):
		reason = errDisabled.Error()
	case errors.Is(e.Err, ErrEventTooLong):
		reason = ErrEventTooLong.Error()
	}
	return fmt.Sprintf("provider %q: %s", e.Provider, reason)
}

var errDisabled = errors.New("provider is disabled")

// ErrEventTooLong is a streamed event over the gateway's size limit.
var ErrEventTooLong = errors.New("provider sent a stream event over the size limit")

func (e *Error) Unwrap() error { return e.Err }

// Unsent reports whether the request surely never reached the provider:
// no connection could be made, or the provider is disabled. Any other
// failure may have been served, and billed, upstream.
func (e *Error) Unsent() bool {
	var te *TimeoutError
	if errors.As(e.Err, &te) {
		return te.Phase == PhaseConnect
	}
	var oe *net.OpError
	var dns *net.DNSError
	return errors.As(e.Err, &oe) && oe.Op == "dial" || errors.As(e.Err, &dns) ||
		errors.Is(e.Err, syscall.ECONNREFUSED) || errors.Is(e.Err, errDisabled)
}

// ErrKeepaliveTick is returned by Stream.Read when the upstream stayed
// silent for the keep-alive interval. The stream is intact: the caller may
// send its client a keep-alive and read again.
var ErrKeepaliveTick error = errTick

// classify wraps a fasthttp call error as an *Error with its status.
func classify(provider string, err error) *Error {
	var te *TimeoutError
	switch {
	case errors.As(err, &te):
		return &Error{Provider: provider, Status: fasthttp.StatusGatewayTimeout, Err: te}
	case errors.Is(err, fasthttp.ErrDialTimeout):
		return &Error{Provider: provider, Status: fasthttp.StatusGatewayTimeout, Err: &TimeoutError{Phase: PhaseConnect}}
	case errors.Is(err, fasthttp.ErrTimeout):
		// fasthttp turns every read timeout into ErrTimeout; inside Do the
		// only read is of the response headers.
		return &Error{Provider: provider, Status: fasthttp.StatusGatewayTimeout, Err: &TimeoutError{Phase: PhaseFirstByte}}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Provider: provider, Status: fasthttp.StatusGatewayTimeout, Err: &TimeoutError{Phase: PhaseConnect}}
	}
	return &Error{Provider: provider, Status: fasthttp.StatusBadGateway, Err: err}
}
