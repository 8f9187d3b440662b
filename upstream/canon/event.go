package canon

// EventType is the type of a stream event.
type EventType uint8

// The stream events. A well-formed stream is MessageStart, then for each
// content block a BlockStart, its deltas and a BlockStop, then one or
// more MessageDelta and a MessageStop; Ping may come anywhere, and Error
// ends the stream wherever it comes. Blocks are numbered from 0 in the
// order they start; several blocks may be open at once (parallel tool
// calls whose argument deltas interleave), so every delta names its
// block.
const (
	EventMessageStart EventType = iota + 1
	EventBlockStart
	EventTextDelta
	EventToolArgsDelta
	EventThinkingDelta
	EventSignatureDelta
	EventBlockStop
	EventMessageDelta
	EventMessageStop
	EventError
	EventPing
)

var eventTypeNames = [...]string{
	EventMessageStart:   "message_start",
	EventBlockStart:     "block_start",
	EventTextDelta:      "text_delta",
	EventToolArgsDelta:  "tool_args_delta",
	EventThinkingDelta:  "thinking_delta",
	EventSignatureDelta: "signature_delta",
	EventBlockStop:      "block_stop",
	EventMessageDelta:   "message_delta",
	EventMessageStop:    "message_stop",
	EventError:          "error",
	EventPing:           "ping",
}

// String returns the event type's name, or "unknown".
func (t EventType) String() string {
	if int(t) < len(eventTypeNames) && eventTypeNames[t] != "" {
		return eventTypeNames[t]
	}
	return "unknown"
}

// Event is one canonical stream event. Like Block it is a flat struct:
// a decoder appends events to a reused slice without allocating. Type
// says which fields are used.
type Event struct {
	Type EventType
	// Index is the block of BlockStart, the deltas and BlockStop.
	Index int
	// Kind is the kind of block a BlockStart opens: text, thinking,
	// redacted thinking or tool use.
	Kind BlockKind
	// ID is the message id of MessageStart and the call id of a tool-use
	// BlockStart.
	ID string
	// Name is the tool name of a tool-use BlockStart.
	Name string
	// Model and Created (Unix seconds, 0 unknown) belong to MessageStart.
	Model   string
	Created int64
	// Text is the payload of TextDelta, ThinkingDelta, ToolArgsDelta
	// (partial JSON), SignatureDelta, and the opaque data of a
	// redacted-thinking BlockStart.
	Text string
	// StopReason and StopSequence belong to MessageDelta.
	StopReason   StopReason
	StopSequence string
	// Usage is the usage known so far, in MessageStart and MessageDelta;
	// the last MessageDelta carries the whole call's usage.
	Usage Usage
	// Error is the failure an Error event reports.
	Error Error
}

// Error is a provider's failure: an error answer, or an error reported
// inside a stream after the response headers were sent.
type Error struct {
	// Status is the HTTP status the failure would have had (429, 500,
	// 529, ...).
	Status int
	// Type is the error type as the source named it
	// ("overloaded_error", "server_error"); encoders choose their own
	// from Status when it is not one of theirs.
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// AppendEvents appends the stream events that deliver r whole: a
// MessageStart, each block as a BlockStart, one delta (text, thinking and
// its signature, or the tool call's arguments) and a BlockStop, then a
// MessageDelta with the stop reason and usage and a MessageStop. It
// replays a stored answer as a stream in any format; the events' strings
// point into r.
func AppendEvents(dst []Event, r *Response) []Event {
	dst = append(dst, Event{Type: EventMessageStart, ID: r.ID, Model: r.Model, Created: r.Created,
		Usage: Usage{Input: r.Usage.Input, CacheRead: r.Usage.CacheRead, CacheWrite: r.Usage.CacheWrite}})
	for i := range r.Content {
		b := &r.Content[i]
		start := Event{Type: EventBlockStart, Index: i, Kind: b.Kind}
		switch b.Kind {
		case BlockToolUse:
			start.ID, start.Name = b.ID, b.Name
		case BlockRedactedThinking:
			start.Text = b.Data
		}
		dst = append(dst, start)
		switch b.Kind {
		case BlockText, BlockRefusal:
			if b.Text != "" {
				dst = append(dst, Event{Type: EventTextDelta, Index: i, Text: b.Text})
			}
		case BlockThinking:
			if b.Text != "" {
				dst = append(dst, Event{Type: EventThinkingDelta, Index: i, Text: b.Text})
			}
			if b.Signature != "" {
				dst = append(dst, Event{Type: EventSignatureDelta, Index: i, Text: b.Signature})
			}
		case BlockToolUse:
			if b.Input != "" {
				dst = append(dst, Event{Type: EventToolArgsDelta, Index: i, Text: b.Input})
			}
		}
		dst = append(dst, Event{Type: EventBlockStop, Index: i})
	}
	return append(dst,
		Event{Type: EventMessageDelta, StopReason: r.StopReason, StopSequence: r.StopSequence, Usage: r.Usage},
		Event{Type: EventMessageStop})
}
