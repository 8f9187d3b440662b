package gemini

import "switchboard/upstream/canon"

// StreamDecoder turns the data payloads of a streamGenerateContent?alt=sse
// stream into canonical events. Each payload is a whole
// GenerateContentResponse chunk: the first opens the message
// (MessageStart, with responseId and modelVersion); text and thought
// parts are deltas of the open text or thinking block, a new block
// starting when the kind changes; a functionCall arrives whole and
// becomes BlockStart (id "call_<n>", Gemini having none), one
// ToolArgsDelta with the whole arguments and BlockStop; a thoughtSignature
// on a thought part is a SignatureDelta of its thinking block, and on any
// other part a thinking block of its own holding only the signature,
// before that part's block (as in DecodeResponse). usageMetadata is
// cumulative and replaces what was known. The chunk with a finishReason
// ends the message: open blocks stop, then MessageDelta (tool_use if the
// answer called a function) and MessageStop. An {"error":...} payload is
// an Error event and ends the stream. It is stateful, one per stream; the
// zero value is ready.
type StreamDecoder struct {
	w       generateResponse
	text    canon.Unescaper
	usage   canon.Usage
	open    int             // index of the open text or thinking block
	kind    canon.BlockKind // its kind, 0 when no block is open
	next    int             // next block index
	calls   int
	started bool
	done    bool
}

// Reset makes d ready for a new stream, keeping its memory.
func (d *StreamDecoder) Reset() { *d = StreamDecoder{text: d.text} }

// Usage returns the usage the stream reported so far.
func (d *StreamDecoder) Usage() canon.Usage { return d.usage }

// Decode appends the events of one data payload to dst. The events'
// strings point into data or into d: use them before the next call.
// Payloads after the end are ignored.
func (d *StreamDecoder) Decode(dst []canon.Event, data []byte) ([]canon.Event, error) {
	data = canon.Trim(data)
	if len(data) == 0 || d.done {
		return dst, nil
	}
	w := &d.w
	// Reuse the slices, but zeroed: the decode leaves a field absent
	// from this chunk as it was in the previous one.
	cs := w.Candidates[:cap(w.Candidates)]
	for i := range cs {
		ps := cs[i].Content.Parts[:cap(cs[i].Content.Parts)]
		clear(ps)
		cs[i] = candidate{}
		cs[i].Content.Parts = ps[:0]
	}
	*w = generateResponse{Candidates: cs[:0]}
	if err := canon.DecodeLenient(data, w, "chunk"); err != nil {
		return dst, err
	}
	d.text.Reset()
	if w.Error != nil {
		d.done = true
		return append(dst, canon.Event{Type: canon.EventError, Error: w.Error.canon(0)}), nil
	}
	if w.UsageMetadata != (usageMetadata{}) {
		d.usage = w.UsageMetadata.canon()
	}
	if !d.started {
		d.started = true
		dst = append(dst, canon.Event{Type: canon.EventMessageStart, ID: w.ResponseID, Model: w.ModelVersion, Usage: d.usage})
	}
	finish := ""
	if len(w.Candidates) == 0 {
		if w.PromptFeedback.BlockReason != "" {
			finish = "SAFETY"
		}
	} else {
		c := &w.Candidates[0]
		finish = c.FinishReason
		for j := range c.Content.Parts {
			var err error
			if dst, err = d.part(dst, &c.Content.Parts[j]); err != nil {
				return dst, canon.At(err, "candidates[0].content.parts", j)
			}
		}
	}
	if finish == "" {
		return dst, nil
	}
	dst = d.closeOpen(dst)
	d.done = true
	dst = append(dst, canon.Event{Type: canon.EventMessageDelta, StopReason: stopReason(finish, d.calls > 0), Usage: d.usage})
	return append(dst, canon.Event{Type: canon.EventMessageStop}), nil
}

func (d *StreamDecoder) closeOpen(dst []canon.Event) []canon.Event {
	if d.kind != 0 {
		dst = append(dst, canon.Event{Type: canon.EventBlockStop, Index: d.open})
		d.kind = 0
	}
	return dst
}

// ensure makes the open block one of kind k, starting one if needed.
func (d *StreamDecoder) ensure(dst []canon.Event, k canon.BlockKind) []canon.Event {
	if d.kind == k {
		return dst
	}
	dst = d.closeOpen(dst)
	d.open, d.kind = d.next, k
	d.next++
	return append(dst, canon.Event{Type: canon.EventBlockStart, Index: d.open, Kind: k})
}

func (d *StreamDecoder) part(dst []canon.Event, p *respPart) ([]canon.Event, error) {
	s, err := d.text.String(p.Text)
	if err != nil {
		return dst, canon.Fieldf("text", "%v", err)
	}
	if p.Thought {
		dst = d.ensure(dst, canon.BlockThinking)
		if s != "" {
			dst = append(dst, canon.Event{Type: canon.EventThinkingDelta, Index: d.open, Text: s})
		}
		if p.ThoughtSignature != "" {
			dst = append(dst, canon.Event{Type: canon.EventSignatureDelta, Index: d.open, Text: p.ThoughtSignature})
		}
		return dst, nil
	}
	if p.ThoughtSignature != "" {
		dst = d.closeOpen(dst)
		dst = d.ensure(dst, canon.BlockThinking)
		dst = append(dst, canon.Event{Type: canon.EventSignatureDelta, Index: d.open, Text: p.ThoughtSignature})
		dst = d.closeOpen(dst)
	}
	switch {
	case p.FunctionCall != nil:
		dst = d.closeOpen(dst)
		b := toolUse(p.FunctionCall, d.calls)
		d.calls++
		i := d.next
		d.next++
		return append(dst,
			canon.Event{Type: canon.EventBlockStart, Index: i, Kind: canon.BlockToolUse, ID: b.ID, Name: b.Name},
			canon.Event{Type: canon.EventToolArgsDelta, Index: i, Text: b.Input},
			canon.Event{Type: canon.EventBlockStop, Index: i}), nil
	case p.InlineData != nil:
		return dst, canon.Fieldf("inlineData", "generated media cannot be translated")
	case !canon.IsNull(p.ExecutableCode):
		return dst, canon.Fieldf("executableCode", "code execution cannot be translated")
	case s != "":
		dst = d.ensure(dst, canon.BlockText)
		return append(dst, canon.Event{Type: canon.EventTextDelta, Index: d.open, Text: s}), nil
	}
	return dst, nil
}

// End reports whether the stream ended properly when its connection
// closed: without a finishReason chunk (or an error) the answer was cut
// off, and End returns canon.ErrStreamTruncated.
func (d *StreamDecoder) End(dst []canon.Event) ([]canon.Event, error) {
	if d.done {
		return dst, nil
	}
	return dst, canon.ErrStreamTruncated
}

// StreamEncoder turns canonical events into a streamGenerateContent?alt=sse
// stream: "data: <GenerateContentResponse>\r\n\r\n" per chunk, the
// framing the API uses. It is stateful, one per stream; the zero value is
// ready.
//
// MessageStart, BlockStart, Ping and MessageStop write nothing (Gemini
// has no such events); each text, thinking or signature delta is a chunk
// of one part at once; a tool call's argument deltas are gathered and
// written as one functionCall chunk at its BlockStop (Gemini sends calls
// whole); the MessageDelta is the last chunk, with an empty text part,
// the finishReason and the usage. A thinking block that holds only a
// signature (one Gemini put on a text or functionCall part) lends it to
// the next part written. Every chunk carries usageMetadata (the
// usage known so far), modelVersion and responseId, as the API's do. An
// Error is written as {"error":{...}} and ends the stream.
//
// An event's strings may point into its decoder's buffers, valid only
// until the next event: what the encoder keeps, it copies.
type StreamEncoder struct {
	id, model []byte
	usage     canon.Usage
	blocks    []encBlock
	sig       []byte // a signature waiting for the next part
	started   bool
	done      bool
}

type encBlock struct {
	kind    canon.BlockKind
	name    []byte
	args    []byte
	hadText bool // a thinking block that had text
}

// Reset makes e ready for a new stream, keeping its memory.
func (e *StreamEncoder) Reset() {
	*e = StreamEncoder{id: e.id[:0], model: e.model[:0], sig: e.sig[:0], blocks: e.blocks[:0]}
}

const sseEnd = "\r\n\r\n"

// Append appends the stream output for ev to dst. It fails on an event
// that does not fit the stream so far; events after the end write
// nothing.
func (e *StreamEncoder) Append(dst []byte, ev *canon.Event) ([]byte, error) {
	if e.done {
		return dst, nil
	}
	switch ev.Type {
	case canon.EventError:
		e.done = true
		dst = AppendError(append(dst, "data: "...), &ev.Error)
		return append(dst, sseEnd...), nil
	case canon.EventPing:
		return dst, nil
	case canon.EventMessageStart:
		if e.started {
			return dst, errEvent(ev, "a second message_start")
		}
		e.started = true
		e.id, e.model, e.usage = append(e.id[:0], ev.ID...), append(e.model[:0], ev.Model...), ev.Usage
		return dst, nil
	}
	if !e.started {
		return dst, errEvent(ev, "no message_start before")
	}
	switch ev.Type {
	case canon.EventBlockStart:
		for len(e.blocks) <= ev.Index {
			e.blocks = append(e.blocks, encBlock{})
		}
		b := &e.blocks[ev.Index]
		if b.kind != 0 {
			return dst, errEvent(ev, "a block that already started")
		}
		b.kind, b.name, b.args, b.hadText = ev.Kind, append(b.name[:0], ev.Name...), b.args[:0], false
		return dst, nil
	case canon.EventTextDelta, canon.EventThinkingDelta, canon.EventSignatureDelta:
		if ev.Index >= len(e.blocks) || e.blocks[ev.Index].kind == 0 {
			return dst, errEvent(ev, "a delta of a block that did not start")
		}
		if ev.Text == "" {
			return dst, nil
		}
		switch ev.Type {
		case canon.EventTextDelta:
			dst = appendTextPart(e.head(dst), ev.Text, false, canon.View(e.sig))
			e.sig = e.sig[:0]
		case canon.EventThinkingDelta:
			e.blocks[ev.Index].hadText = true
			dst = appendTextPart(e.head(dst), ev.Text, true, "")
		default:
			if !e.blocks[ev.Index].hadText {
				// A signature-only block: it belongs to the next part.
				e.sig = append(e.sig[:0], ev.Text...)
				return dst, nil
			}
			dst = appendTextPart(e.head(dst), "", true, ev.Text)
		}
		return e.tail(dst, ""), nil
	case canon.EventToolArgsDelta:
		if ev.Index >= len(e.blocks) || e.blocks[ev.Index].kind != canon.BlockToolUse {
			return dst, errEvent(ev, "arguments of a block that is not a started tool call")
		}
		e.blocks[ev.Index].args = append(e.blocks[ev.Index].args, ev.Text...)
		return dst, nil
	case canon.EventBlockStop:
		if ev.Index >= len(e.blocks) || e.blocks[ev.Index].kind == 0 {
			return dst, errEvent(ev, "a block that did not start")
		}
		b := &e.blocks[ev.Index]
		if b.kind != canon.BlockToolUse {
			b.kind = 0
			return dst, nil
		}
		b.kind = 0
		start := len(dst)
		dst, err := appendCall(append(e.head(dst), '{'), canon.View(b.name), canon.View(b.args))
		if err != nil {
			return dst[:start], errEvent(ev, "tool arguments that are not a JSON object")
		}
		if len(e.sig) > 0 {
			dst = canon.AppendStringField(dst, "thoughtSignature", canon.View(e.sig))
			e.sig = e.sig[:0]
		}
		return e.tail(append(dst, '}'), ""), nil
	case canon.EventMessageDelta:
		e.usage = ev.Usage
		if len(e.sig) > 0 {
			dst = e.tail(appendTextPart(e.head(dst), "", true, canon.View(e.sig)), "")
			e.sig = e.sig[:0]
		}
		dst = append(e.head(dst), `{"text":""}`...)
		return e.tail(dst, finishReason(ev.StopReason)), nil
	case canon.EventMessageStop:
		e.done = true
		return dst, nil
	}
	return dst, errEvent(ev, "unknown event type")
}

// head opens a chunk up to its first part.
func (e *StreamEncoder) head(dst []byte) []byte {
	return append(dst, `data: {"candidates":[{"content":{"parts":[`...)
}

// tail closes a chunk opened by head.
func (e *StreamEncoder) tail(dst []byte, finish string) []byte {
	dst = append(dst, `],"role":"model"}`...)
	if finish != "" {
		dst = canon.AppendStringField(dst, "finishReason", finish)
	}
	dst = append(dst, `,"index":0}]`...)
	dst = appendUsage(canon.AppendKey(dst, "usageMetadata"), &e.usage)
	dst = canon.AppendStringField(dst, "modelVersion", canon.View(e.model))
	dst = canon.AppendStringField(dst, "responseId", canon.View(e.id))
	return append(dst, "}"+sseEnd...)
}

func errEvent(ev *canon.Event, what string) error {
	return &canon.FieldError{Field: "stream event " + ev.Type.String(), Reason: what}
}
