package anthropic

import (
	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// streamEvent is the data of one Messages stream event; its "type" says
// which fields it uses. Decoded leniently: Anthropic adds event and
// delta types, and asks clients to skip the ones they do not know.
type streamEvent struct {
	Type    string `json:"type"`
	Message struct {
		ID    string `json:"id"`
		Model string `json:"model"`
		Usage usage  `json:"usage"`
	} `json:"message"`
	Index        int       `json:"index"`
	ContentBlock respBlock `json:"content_block"`
	Delta        struct {
		Type string `json:"type"`
		// Text, PartialJSON and Thinking are raw (see canon.Unescaper).
		Text         sonic.NoCopyRawMessage `json:"text"`
		PartialJSON  sonic.NoCopyRawMessage `json:"partial_json"`
		Thinking     sonic.NoCopyRawMessage `json:"thinking"`
		Signature    string                 `json:"signature"`
		StopReason   string                 `json:"stop_reason"`
		StopSequence string                 `json:"stop_sequence"`
	} `json:"delta"`
	Usage usage    `json:"usage"`
	Error errorObj `json:"error"`
}

// StreamDecoder turns the data payloads of a Messages stream into
// canonical events, one for one (the "event:" line repeats the data's
// "type" and is not needed). It is stateful, one per stream; the zero
// value is ready.
//
// Usage is cumulative: message_start carries the input side,
// message_delta the output side and, lately, the input side again; the
// decoder merges them, so a MessageDelta carries the whole call's usage.
type StreamDecoder struct {
	ev      streamEvent
	text    canon.Unescaper
	usage   canon.Usage
	started bool
	done    bool
}

// Reset makes d ready for a new stream, keeping its memory.
func (d *StreamDecoder) Reset() { *d = StreamDecoder{text: d.text} }

// Usage returns the usage the stream reported so far.
func (d *StreamDecoder) Usage() canon.Usage { return d.usage }

// Decode appends the events of one data payload to dst. The events'
// strings point into data or into d: use them before the next call. Payloads after
// the end (message_stop or an error) and events of unknown types are
// ignored.
func (d *StreamDecoder) Decode(dst []canon.Event, data []byte) ([]canon.Event, error) {
	data = canon.Trim(data)
	if len(data) == 0 || d.done {
		return dst, nil
	}
	e := &d.ev
	*e = streamEvent{}
	if err := canon.DecodeLenient(data, e, "event"); err != nil {
		return dst, err
	}
	d.text.Reset()
	switch e.Type {
	case "message_start":
		d.started = true
		e.Message.Usage.update(&d.usage)
		return append(dst, canon.Event{Type: canon.EventMessageStart, ID: e.Message.ID, Model: e.Message.Model, Usage: d.usage}), nil
	case "content_block_start":
		return d.blockStart(dst, e.Index, &e.ContentBlock)
	case "content_block_delta":
		ev := canon.Event{Index: e.Index}
		var raw []byte
		switch e.Delta.Type {
		case "text_delta":
			ev.Type, raw = canon.EventTextDelta, e.Delta.Text
		case "input_json_delta":
			ev.Type, raw = canon.EventToolArgsDelta, e.Delta.PartialJSON
		case "thinking_delta":
			ev.Type, raw = canon.EventThinkingDelta, e.Delta.Thinking
		case "signature_delta":
			ev.Type, ev.Text = canon.EventSignatureDelta, e.Delta.Signature
		default:
			return dst, nil // citations_delta and newer kinds
		}
		if raw != nil {
			var err error
			if ev.Text, err = d.text.String(raw); err != nil {
				return dst, canon.Fieldf("delta", "%v", err)
			}
		}
		return append(dst, ev), nil
	case "content_block_stop":
		return append(dst, canon.Event{Type: canon.EventBlockStop, Index: e.Index}), nil
	case "message_delta":
		e.Usage.update(&d.usage)
		return append(dst, canon.Event{Type: canon.EventMessageDelta, StopReason: stopReason(e.Delta.StopReason),
			StopSequence: e.Delta.StopSequence, Usage: d.usage}), nil
	case "message_stop":
		d.done = true
		return append(dst, canon.Event{Type: canon.EventMessageStop}), nil
	case "ping":
		return append(dst, canon.Event{Type: canon.EventPing}), nil
	case "error":
		d.done = true
		return append(dst, canon.Event{Type: canon.EventError, Error: e.Error.canon()}), nil
	}
	return dst, nil
}

// blockStart appends a BlockStart and, when the start already carries
// content (a proxy that sends whole blocks), the delta for it.
func (d *StreamDecoder) blockStart(dst []canon.Event, i int, b *respBlock) ([]canon.Event, error) {
	ev := canon.Event{Type: canon.EventBlockStart, Index: i}
	var delta canon.Event
	switch b.Type {
	case "text":
		ev.Kind = canon.BlockText
		delta = canon.Event{Type: canon.EventTextDelta, Index: i, Text: b.Text}
	case "thinking":
		ev.Kind = canon.BlockThinking
		delta = canon.Event{Type: canon.EventThinkingDelta, Index: i, Text: b.Thinking}
	case "redacted_thinking":
		ev.Kind, ev.Text = canon.BlockRedactedThinking, b.Data
	case "tool_use":
		ev.Kind, ev.ID, ev.Name = canon.BlockToolUse, b.ID, b.Name
		if in := canon.View(canon.Trim(b.Input)); in != "" && in != "{}" {
			delta = canon.Event{Type: canon.EventToolArgsDelta, Index: i, Text: in}
		}
	default:
		return dst, canon.Fieldf("content_block.type", "%q cannot be translated", b.Type)
	}
	dst = append(dst, ev)
	if delta.Text != "" {
		dst = append(dst, delta)
	}
	if b.Type == "thinking" && b.Signature != "" {
		dst = append(dst, canon.Event{Type: canon.EventSignatureDelta, Index: i, Text: b.Signature})
	}
	return dst, nil
}

// End reports whether the stream ended properly when its connection
// closed: without message_stop (or an error event) the answer was cut
// off, and End returns canon.ErrStreamTruncated for the caller to
// report in-band.
func (d *StreamDecoder) End(dst []canon.Event) ([]canon.Event, error) {
	if d.done {
		return dst, nil
	}
	return dst, canon.ErrStreamTruncated
}

// StreamEncoder turns canonical events into a Messages stream:
// "event: <type>\ndata: <json>\n\n" per event. It is stateful, one per
// stream; the zero value is ready.
//
// Every event is written as soon as it comes, with one exception that
// costs no latency: a text block starts at its first non-empty text
// delta, not at its BlockStart, so there is never an empty text block
// (Claude Code shows one as an empty line). Blocks are therefore
// renumbered in the order they are written. Blocks still open at the
// MessageDelta are stopped first.
type StreamEncoder struct {
	// blocks maps a canonical block index to its state: blockNone, or
	// blockPendingText, or the output index + blockOpen.
	blocks  []int
	next    int
	started bool
	done    bool
}

const (
	blockNone        = 0
	blockPendingText = 1
	blockOpen        = 2
)

// Reset makes e ready for a new stream, keeping its memory.
func (e *StreamEncoder) Reset() { *e = StreamEncoder{blocks: e.blocks[:0]} }

var (
	evMessageStart = []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{")
	evBlockStart   = []byte("event: content_block_start\ndata: {\"type\":\"content_block_start\"")
	evBlockDelta   = []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\"")
	evBlockStop    = []byte("event: content_block_stop\ndata: {\"type\":\"content_block_stop\"")
	evMessageDelta = []byte("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{")
	evMessageStop  = []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	evPing         = []byte("event: ping\ndata: {\"type\":\"ping\"}\n\n")
	evError        = []byte("event: error\ndata: ")
	evEnd          = []byte("}\n\n")
)

// Append appends the stream output for ev to dst. It fails on an event
// that does not fit the stream so far (a delta of a block that never
// started, an event before MessageStart); events after the end write
// nothing.
func (e *StreamEncoder) Append(dst []byte, ev *canon.Event) ([]byte, error) {
	if e.done {
		return dst, nil
	}
	switch ev.Type {
	case canon.EventError:
		e.done = true
		dst = AppendError(append(dst, evError...), &ev.Error)
		return append(dst, '\n', '\n'), nil
	case canon.EventPing:
		return append(dst, evPing...), nil
	case canon.EventMessageStart:
		if e.started {
			return dst, errEvent(ev, "a second message_start")
		}
		e.started = true
		dst = append(dst, evMessageStart...)
		dst = canon.AppendStringField(dst, "id", ev.ID)
		dst = append(dst, `,"type":"message","role":"assistant"`...)
		dst = canon.AppendStringField(dst, "model", ev.Model)
		dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null`...)
		dst = appendUsage(canon.AppendKey(dst, "usage"), &ev.Usage)
		return append(dst, "}}\n\n"...), nil
	}
	if !e.started {
		return dst, errEvent(ev, "no message_start before")
	}
	switch ev.Type {
	case canon.EventBlockStart:
		return e.blockStart(dst, ev)
	case canon.EventTextDelta, canon.EventThinkingDelta, canon.EventSignatureDelta, canon.EventToolArgsDelta:
		return e.delta(dst, ev)
	case canon.EventBlockStop:
		if ev.Index >= len(e.blocks) || e.blocks[ev.Index] == blockNone {
			return dst, errEvent(ev, "a block that did not start")
		}
		return e.stop(dst, ev.Index), nil
	case canon.EventMessageDelta:
		for i := range e.blocks {
			if e.blocks[i] != blockNone {
				dst = e.stop(dst, i)
			}
		}
		dst = append(dst, evMessageDelta...)
		dst = canon.AppendStringField(dst, "stop_reason", wireStopReason(ev.StopReason))
		dst = appendStopSequence(dst, ev.StopSequence)
		dst = append(dst, '}')
		dst = appendUsage(canon.AppendKey(dst, "usage"), &ev.Usage)
		return append(dst, evEnd...), nil
	case canon.EventMessageStop:
		e.done = true
		return append(dst, evMessageStop...), nil
	}
	return dst, errEvent(ev, "unknown event type")
}

func (e *StreamEncoder) blockStart(dst []byte, ev *canon.Event) ([]byte, error) {
	for len(e.blocks) <= ev.Index {
		e.blocks = append(e.blocks, blockNone)
	}
	if e.blocks[ev.Index] != blockNone {
		return dst, errEvent(ev, "a block that already started")
	}
	switch ev.Kind {
	case canon.BlockText, canon.BlockRefusal:
		e.blocks[ev.Index] = blockPendingText
		return dst, nil
	case canon.BlockThinking, canon.BlockRedactedThinking, canon.BlockToolUse:
	default:
		return dst, errEvent(ev, "a block of kind "+ev.Kind.String())
	}
	dst = e.appendStart(dst, ev.Index)
	switch ev.Kind {
	case canon.BlockThinking:
		dst = append(dst, `{"type":"thinking","thinking":"","signature":""}`...)
	case canon.BlockRedactedThinking:
		dst = append(dst, `{"type":"redacted_thinking"`...)
		dst = append(canon.AppendStringField(dst, "data", ev.Text), '}')
	case canon.BlockToolUse:
		dst = append(dst, `{"type":"tool_use"`...)
		dst = canon.AppendStringField(dst, "id", ev.ID)
		dst = canon.AppendStringField(dst, "name", ev.Name)
		dst = append(dst, `,"input":{}}`...)
	}
	return append(dst, evEnd...), nil
}

// appendStart writes the head of a content_block_start for canonical
// block i, which takes the next output index, up to its content_block
// value.
func (e *StreamEncoder) appendStart(dst []byte, i int) []byte {
	e.blocks[i] = e.next + blockOpen
	dst = append(dst, evBlockStart...)
	dst = canon.AppendIntField(dst, "index", int64(e.next))
	e.next++
	return canon.AppendKey(dst, "content_block")
}

func (e *StreamEncoder) delta(dst []byte, ev *canon.Event) ([]byte, error) {
	if ev.Index >= len(e.blocks) || e.blocks[ev.Index] == blockNone {
		return dst, errEvent(ev, "a delta of a block that did not start")
	}
	if ev.Text == "" {
		return dst, nil
	}
	if e.blocks[ev.Index] == blockPendingText {
		if ev.Type != canon.EventTextDelta {
			return dst, errEvent(ev, "a delta that is not text in a text block")
		}
		dst = append(e.appendStart(dst, ev.Index), `{"type":"text","text":""}`...)
		dst = append(dst, evEnd...)
	}
	dst = append(dst, evBlockDelta...)
	dst = canon.AppendIntField(dst, "index", int64(e.blocks[ev.Index]-blockOpen))
	dst = append(canon.AppendKey(dst, "delta"), '{')
	switch ev.Type {
	case canon.EventTextDelta:
		dst = append(dst, `"type":"text_delta"`...)
		dst = canon.AppendStringField(dst, "text", ev.Text)
	case canon.EventThinkingDelta:
		dst = append(dst, `"type":"thinking_delta"`...)
		dst = canon.AppendStringField(dst, "thinking", ev.Text)
	case canon.EventSignatureDelta:
		dst = append(dst, `"type":"signature_delta"`...)
		dst = canon.AppendStringField(dst, "signature", ev.Text)
	case canon.EventToolArgsDelta:
		dst = append(dst, `"type":"input_json_delta"`...)
		dst = canon.AppendStringField(dst, "partial_json", ev.Text)
	}
	dst = append(dst, '}')
	return append(dst, evEnd...), nil
}

// stop writes the content_block_stop of canonical block i, or nothing
// for a text block that never got text.
func (e *StreamEncoder) stop(dst []byte, i int) []byte {
	s := e.blocks[i]
	e.blocks[i] = blockNone
	if s < blockOpen {
		return dst
	}
	dst = append(dst, evBlockStop...)
	dst = canon.AppendIntField(dst, "index", int64(s-blockOpen))
	return append(dst, evEnd...)
}

func errEvent(ev *canon.Event, what string) error {
	return &canon.FieldError{Field: "stream event " + ev.Type.String(), Reason: what}
}
