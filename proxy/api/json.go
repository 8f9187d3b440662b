package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
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
	msg := decodeMessage(err)
	if field, fieldMsg, ok := badField(body, v); ok {
		return fmt.Errorf("%w: %s: %s", ErrBadRequest, field, fieldMsg)
	}
	return fmt.Errorf("%w: request body: %s", ErrBadRequest, msg)
}

// badField finds which top-level field of a body that failed to decode
// into v is at fault, by decoding each field alone into a fresh value of
// v's type, in name order, and returns it with its error. It runs only on
// the error path. ok is false when no single field fails (a syntax
// error, say).
func badField(body []byte, v any) (field, msg string, ok bool) {
	var fields map[string]json.RawMessage
	if apiJSON.Unmarshal(body, &fields) != nil {
		return "", "", false
	}
	names := slices.Sorted(maps.Keys(fields))
	t := reflect.TypeOf(v).Elem()
	for _, name := range names {
		one, _ := json.Marshal(map[string]json.RawMessage{name: fields[name]})
		if err := apiJSON.Unmarshal(one, reflect.New(t).Interface()); err != nil {
			msg := strings.TrimPrefix(decodeMessage(err), "json: ")
			if strings.HasPrefix(msg, "unknown field") {
				msg = "unknown field; check its spelling against the API reference"
			} else if ft, ok := jsonField(t, name); ok && strings.Contains(msg, "Mismatch type") {
				msg = fmt.Sprintf("want %s, got %.40s", kindName(reflect.Zero(ft).Interface()), fields[name])
			}
			return name, msg, true
		}
	}
	return "", "", false
}

// jsonField is the type of the field of struct t, or of a struct it
// embeds, that JSON names name.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if ft, ok := jsonField(f.Type, name); ok {
				return ft, true
			}
		}
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

// decodeMessage is the first line of a decoding error: sonic's messages
// (Description, when it has one: its Error quotes it) continue with a copy
// of the input on the lines after the first.
func decodeMessage(err error) string {
	msg := err.Error()
	var described interface{ Description() string }
	if errors.As(err, &described) {
		msg = described.Description()
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return msg
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
	_, custom := any(&o.V).(interface{ UnmarshalJSON([]byte) error })
	if _, isTime := any(o.V).(time.Time); err != nil && (!custom || isTime) {
		return fmt.Errorf("want %s, got %.40s", kindName(o.V), b)
	}
	return err
}

// kindName says in JSON's words what a field of v's type takes, for an
// error message: never a Go type name.
func kindName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int, int64:
		return "a whole number"
	case bool:
		return "true or false"
	case []string:
		return "a list of strings"
	case time.Time:
		return `an RFC 3339 time like "2027-01-31T00:00:00Z"`
	}
	return "another type"
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
