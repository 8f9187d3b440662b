package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"switchboard/store/money"
	"time"
	"unsafe"
)

// Records are encoded by hand with encoding/binary: a version byte, then
// the fields in a fixed order as varints and length-prefixed strings.
//
// Why not JSON (sonic): the ledger is written once per request at up to
// tens of thousands of requests a second, and an entry is ~25 fields,
// mostly small integers. Varints make an entry ~120 bytes against ~600 as
// JSON, encoding is a few appends into a reused buffer with no reflection
// and no allocation, and int64 money survives exactly (JSON numbers invite
// float64 on the reading side). The price is that the field order is the
// schema: the decoders below are the only readers.
//
// Evolving a record: never reorder or remove fields of a written version.
// Add fields at the end under a new version byte; the decoder reads the
// old versions too, leaving the new fields zero. A version the decoder
// does not know is an error naming the record, never a silent zero.

// errShortRecord is returned for a truncated record.
var errShortRecord = errors.New("record is truncated")

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }
func appendVarint(dst []byte, v int64) []byte   { return binary.AppendVarint(dst, v) }

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// appendTime appends t as Unix nanoseconds; the zero Time is 0, so "never"
// and "unset" survive the round trip. Times outside 1678..2262 do not fit
// and are clamped by UnixNano's rules.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(dst, 0)
	}
	return binary.AppendVarint(dst, t.UnixNano())
}

// reader decodes one record. The first error sticks: callers read every
// field and check err once at the end.
type reader struct {
	b    []byte
	err  error
	view bool // string returns views of b instead of copies
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int                { return int(r.varint()) }
func (r *reader) money() money.Money      { return money.Money(r.varint()) }
func (r *reader) duration() time.Duration { return time.Duration(r.varint()) }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShortRecord
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bool() bool { return r.byte() != 0 }

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errShortRecord
		return ""
	}
	var s string
	if r.view {
		s = unsafeString(r.b[:n])
	} else {
		s = string(r.b[:n])
	}
	r.b = r.b[n:]
	return s
}

// unsafeString views b as a string, valid only while b is unchanged.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (r *reader) time() time.Time {
	ns := r.varint()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// version reads the leading version byte and checks it is one of known.
func (r *reader) version(kind string, known ...byte) byte {
	v := r.byte()
	if r.err != nil {
		return 0
	}
	for _, k := range known {
		if v == k {
			return v
		}
	}
	r.err = fmt.Errorf("%s record has unknown version %d", kind, v)
	return 0
}

// done reports the first error, naming the record.
func (r *reader) done(kind, id string) error {
	if r.err != nil {
		return fmt.Errorf("cannot decode %s %q: %w", kind, id, r.err)
	}
	return nil
}

// checkID validates an ID used inside keys: non-empty, at most 256 bytes
// and no NUL byte (NUL separates an ID from what follows it in a key).
// CheckID checks an id as every store call does: 1-256 bytes, no NUL;
// what names it in the error ("account").
func CheckID(what, id string) error { return checkID(what, id) }

func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(id) > 256 {
		return fmt.Errorf("%s %.40q... is longer than 256 bytes", what, id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] == 0 {
			return fmt.Errorf("%s %q contains a NUL byte", what, id)
		}
	}
	return nil
}
