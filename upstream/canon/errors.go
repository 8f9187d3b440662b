package canon

import (
	"errors"
	"fmt"
	"strconv"
)

// FieldError is a request field that cannot be translated to the target
// format, or whose value is invalid there. The caller answers it with a
// 400 and its message, in the client's error shape.
type FieldError struct {
	// Field is the field's path in the client's request, as JSON names
	// and indexes: "messages[2].content[0].type".
	Field string
	// Reason says what is wrong, with the value.
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Fieldf returns a *FieldError for field with a formatted reason.
func Fieldf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrStreamTruncated is a stream that ended before the answer was
// complete: the upstream closed the connection without its final event.
var ErrStreamTruncated = errors.New("upstream stream ended before the answer was complete")

// At prefixes the field of a *FieldError with the place of the value it
// was found in, so that inner decoders name fields relative to what they
// decode and the path is only built on the error path: At(err,
// "messages", 2) turns "content[0].type" into
// "messages[2].content[0].type"; an index below 0 adds the name alone.
// Other errors pass through.
func At(err error, name string, index int) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	p := name
	if index >= 0 {
		p += "[" + strconv.Itoa(index) + "]"
	}
	if fe.Field != "" {
		p += "." + fe.Field
	}
	fe.Field = p
	return err
}
