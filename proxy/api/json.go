package api

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/store/money"
)

// JSON in and out: strict request bodies, answers, and the field types
// both use (optional fields, dollar amounts, nulls).

// apiJSON encodes answers and strictly decodes request bodies: an unknown
// field is an error, so a typo is a 400 rather than silently ignored.
// Decoded strings are copies, never views of the request buffer.
var apiJSON = sonic.Config{
	EscapeHTML:            true,
	CompactMarshaler:      true,
	CopyString:            true,
	ValidateString:        true,
	DisallowUnknownFields: true,
}.Froze()

// writeData answers {"data":v} with status.
func writeData(ctx *fasthttp.RequestCtx, status int, v any) error {
	return writeJSON(ctx, status, struct {
		Data any `json:"data"`
	}{v})
}

// writeJSON answers v as JSON with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	b, err := apiJSON.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode answer: %w", err)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

// decodeBody decodes the request's JSON body into v strictly (see
// apiJSON), or returns a 400 that says what is wrong and where.
func decodeBody(ctx *fasthttp.RequestCtx, v any) error {
	body := bytes.TrimSpace(ctx.PostBody())
	if len(body) == 0 || body[0] != '{' {
		return fmt.Errorf("%w: want a JSON object body", ErrBadRequest)
	}
	err := apiJSON.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	// sonic's messages (Description, when it has one: its Error quotes
	// it) continue with a copy of the input on the lines after the first.
	msg := err.Error()
	var described interface{ Description() string }
	if errors.As(err, &described) {
		msg = described.Description()
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return fmt.Errorf("%w: request body: %s", ErrBadRequest, msg)
}

// checkID checks an id from a request as the store wants ids: 1-256 bytes
// without NUL.
func checkID(what, id string) error {
	if id == "" || len(id) > 256 || strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%w: %s: want 1 to 256 bytes without NUL, got %.40q", ErrBadRequest, what, id)
	}
	return nil
}

// opt is a field of a request body that tells absent (Set false) from
// null (Set and Null, V the zero value) and from a value.
type opt[T any] struct {
	Set, Null bool
	V         T
}

// UnmarshalJSON records that the field was given and decodes it. A value
// of the wrong type is reported as such: sonic's message would point at
// byte 0 of the value, not of the body.
func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	err := apiJSON.Unmarshal(b, &o.V)
	if _, custom := any(&o.V).(interface{ UnmarshalJSON([]byte) error }); err != nil && !custom {
		return fmt.Errorf("want %T, got %.40s", o.V, b)
	}
	return err
}

// amount is money in a request body: decimal dollars as a JSON string
// ("10.50") or number (10.50), parsed from its text, never a float. Up to
// nine decimals; no exponent.
type amount money.Money

// UnmarshalJSON parses a JSON string or number of dollars.
func (a *amount) UnmarshalJSON(b []byte) error {
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := apiJSON.UnmarshalFromString(text, &text); err != nil {
			return err
		}
	}
	m, err := money.Parse(text)
	if err != nil {
		return fmt.Errorf(`want decimal dollars like "10.50", got %s`, b)
	}
	*a = amount(m)
	return nil
}

// String formats a as exact dollars.
func (a amount) String() string { return money.Money(a).String() }

// check returns the amount of a required field, refusing a missing one,
// a negative one, and zero unless zeroOK.
func (a *amount) check(name string, zeroOK bool) (money.Money, error) {
	switch {
	case a == nil:
		return 0, fmt.Errorf(`%w: %s: want decimal dollars like "10.50"`, ErrBadRequest, name)
	case *a < 0 || *a == 0 && !zeroOK:
		want := "more than $0"
		if zeroOK {
			want = "at least $0"
		}
		return 0, fmt.Errorf("%w: %s: want %s, got %s", ErrBadRequest, name, want, *a)
	}
	return money.Money(*a), nil
}

// dollars is Money in an answer: a JSON number of exact decimal dollars,
// such as 0.000001234.
type dollars money.Money

// MarshalJSON writes d as plain decimal dollars.
func (d dollars) MarshalJSON() ([]byte, error) { return money.Money(d).AppendDecimal(nil), nil }

// orNull returns a pointer to v, or nil (JSON null) when v is zero.
func orNull[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// timeOrNull returns a pointer to t, or nil (JSON null) when t is zero.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nilIfEmpty turns an empty list into nil, which answers as JSON null.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
