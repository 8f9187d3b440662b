package websearch

import (
	"errors"
	"fmt"
)

// Error is a failed search. It names the engine and, when the engine
// answered, its status and its own message; it never holds the engine's
// key. The gateway answers a failed search by calling the model without
// web results, so Error carries what a response header or a log line
// needs to say why.
type Error struct {
	// Engine is the engine's name.
	Engine string
	// Status is the engine's HTTP status; 0 when no answer came.
	Status int
	// Message is what the engine said about the failure, as plain text,
	// at most 300 characters; "" when it said nothing readable.
	Message string
	// Err is the cause when no status explains it: ErrTimeout,
	// ErrEmptyQuery, a connection error, a malformed answer.
	Err error
}

// The causes of a failed search a caller may tell apart with errors.Is.
var (
	// ErrTimeout is a search that ran out of time.
	ErrTimeout = errors.New("timed out")
	// ErrEmptyQuery is a search for nothing: the query had no words.
	ErrEmptyQuery = errors.New("empty query")
)

// maxMessageChars caps Error.Message.
const maxMessageChars = 300

func (e *Error) Error() string {
	switch {
	case e.Status != 0 && e.Message != "":
		return fmt.Sprintf("web search %q: status %d: %s", e.Engine, e.Status, e.Message)
	case e.Status != 0:
		return fmt.Sprintf("web search %q: status %d", e.Engine, e.Status)
	}
	return fmt.Sprintf("web search %q: %v", e.Engine, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the search ran out of time.
func (e *Error) Timeout() bool { return errors.Is(e.Err, ErrTimeout) }
