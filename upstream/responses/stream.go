package responses

import (
	"strconv"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// streamEvent is one Responses stream event, with the fields of all the
// types this codec reads.
type streamEvent struct {
	Type         string                 `json:"type"`
	OutputIndex  int                    `json:"output_index"`
	ContentIndex int                    `json:"content_index"`
	SummaryIndex int                    `json:"summary_index"`
	Delta        sonic.NoCopyRawMessage `json:"delta"`
	Item         *respOutputItem        `json:"item"`
	Part         *respOutPart           `json:"part"`
	Response     *streamResponse        `json:"response"`
	Code         sonic.NoCopyRawMessage `json:"code"`
	Message      string                 `json:"message"`
}

// streamResponse is the Response object of response.* events, without
// its output (the items came as events already).
type streamResponse struct {
	ID                string     `json:"id"`
	CreatedAt         int64      `json:"created_at"`
	Status            string     `json:"status"`
	Model             string     `json:"model"`
	Usage             *respUsage `json:"usage"`
	Error             *respError `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
}

// openBlock is a canonical block the decoder has started: the output
// item and part it comes from (part -1 for the item itself).
type openBlock struct {
	out, part, index int
	kind             canon.BlockKind
	deltas           bool // a delta came for it
}

// StreamDecoder turns the data payloads of a Responses stream into
// canonical events. It is stateful, one per stream; the zero value is
// ready.
//
// response.created is MessageStart; each output_text or refusal part of
// a message item is a text block (content_part.added to .done), each
// function_call item a tool-use block, each reasoning item a thinking
// block whose summary parts are joined by a blank line and whose
// encrypted_content, from output_item.done, is a SignatureDelta byte
// for byte. response.completed and response.incomplete end the message
// with its stop reason and usage; response.failed and error are Error
// events.
type StreamDecoder struct {
	ev      streamEvent
	text    canon.Unescaper
	open    []openBlock
	next    int
	usage   canon.Usage
	calls   bool
	refusal bool
	started bool
	done    bool
}

// Reset makes d ready for a new stream, keeping its memory.
func (d *StreamDecoder) Reset() {
	*d = StreamDecoder{text: d.text, open: d.open[:0]}
}

// Usage returns the usage the stream reported so far.
func (d *StreamDecoder) Usage() canon.Usage { return d.usage }

// Decode appends the events of one data payload to dst. The events'
// strings point into data or into d: use them before the next call.
// Payloads after the end and events of unknown types are ignored.
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
	case "response.created":
		if d.started || e.Response == nil {
			return dst, nil
		}
		d.started = true
		r := e.Response
		return append(dst, canon.Event{Type: canon.EventMessageStart, ID: r.ID, Model: r.Model, Created: r.CreatedAt}), nil
	case "error":
		d.done = true
		er := respError{Code: e.Code, Message: e.Message}
		return append(dst, canon.Event{Type: canon.EventError, Error: er.canon(0)}), nil
	}
	if !d.started {
		return dst, nil
	}
	switch e.Type {
	case "response.output_item.added":
		it := e.Item
		if it == nil {
			return dst, canon.Fieldf("item", "required")
		}
		switch it.Type {
		case "function_call":
			d.calls = true
			i := d.start(e.OutputIndex, -1, canon.BlockToolUse)
			dst = append(dst, canon.Event{Type: canon.EventBlockStart, Index: i, Kind: canon.BlockToolUse, ID: it.CallID, Name: it.Name})
			if it.Arguments != "" {
				d.open[len(d.open)-1].deltas = true
				dst = append(dst, canon.Event{Type: canon.EventToolArgsDelta, Index: i, Text: it.Arguments})
			}
		case "reasoning":
			i := d.start(e.OutputIndex, -1, canon.BlockThinking)
			dst = append(dst, canon.Event{Type: canon.EventBlockStart, Index: i, Kind: canon.BlockThinking, ID: it.ID})
		case "message":
		default:
			return dst, canon.Fieldf("item.type", "output item %q cannot be translated", it.Type)
		}
	case "response.content_part.added":
		if e.Part != nil && e.Part.Type == "refusal" {
			d.refusal = true
		}
		i := d.start(e.OutputIndex, e.ContentIndex, canon.BlockText)
		dst = append(dst, canon.Event{Type: canon.EventBlockStart, Index: i, Kind: canon.BlockText})
	case "response.output_text.delta", "response.refusal.delta":
		return d.delta(dst, canon.EventTextDelta, e.OutputIndex, e.ContentIndex)
	case "response.function_call_arguments.delta":
		return d.delta(dst, canon.EventToolArgsDelta, e.OutputIndex, -1)
	case "response.reasoning_summary_text.delta", "response.reasoning_text.delta":
		return d.delta(dst, canon.EventThinkingDelta, e.OutputIndex, -1)
	case "response.reasoning_summary_part.added":
		if e.SummaryIndex > 0 {
			if b := d.find(e.OutputIndex, -1); b != nil {
				dst = append(dst, canon.Event{Type: canon.EventThinkingDelta, Index: b.index, Text: summarySep})
			}
		}
	case "response.content_part.done":
		return d.stop(dst, e.OutputIndex, e.ContentIndex), nil
	case "response.output_item.done":
		return d.itemDone(dst, e)
	case "response.completed", "response.incomplete":
		d.done = true
		for i := range d.open {
			dst = append(dst, canon.Event{Type: canon.EventBlockStop, Index: d.open[i].index})
		}
		d.open = d.open[:0]
		reason := canon.StopEndTurn
		if r := e.Response; r != nil {
			if r.Usage != nil {
				d.usage = r.Usage.canon()
			}
			reason = stopReason(&respObject{Status: r.Status, IncompleteDetails: r.IncompleteDetails}, d.calls)
		} else if d.calls {
			reason = canon.StopToolUse
		}
		if d.refusal && reason == canon.StopEndTurn {
			reason = canon.StopRefusal
		}
		return append(dst, canon.Event{Type: canon.EventMessageDelta, StopReason: reason, Usage: d.usage},
			canon.Event{Type: canon.EventMessageStop}), nil
	case "response.failed":
		d.done = true
		er := canon.Error{Status: 500, Type: "server_error", Message: "the provider failed the response"}
		if r := e.Response; r != nil && r.Error != nil {
			er = r.Error.canon(0)
		}
		return append(dst, canon.Event{Type: canon.EventError, Error: er}), nil
	}
	return dst, nil
}

func (d *StreamDecoder) start(out, part int, k canon.BlockKind) int {
	i := d.next
	d.next++
	d.open = append(d.open, openBlock{out: out, part: part, index: i, kind: k})
	return i
}

func (d *StreamDecoder) find(out, part int) *openBlock {
	for i := range d.open {
		if d.open[i].out == out && d.open[i].part == part {
			return &d.open[i]
		}
	}
	return nil
}

func (d *StreamDecoder) delta(dst []canon.Event, t canon.EventType, out, part int) ([]canon.Event, error) {
	b := d.find(out, part)
	if b == nil {
		return dst, canon.Fieldf("output_index", "a delta for an item that did not start")
	}
	s, err := d.text.String(d.ev.Delta)
	if err != nil {
		return dst, canon.Fieldf("delta", "%v", err)
	}
	b.deltas = true
	if s == "" {
		return dst, nil
	}
	return append(dst, canon.Event{Type: t, Index: b.index, Text: s}), nil
}

// stop closes the block of out and part, if open.
func (d *StreamDecoder) stop(dst []canon.Event, out, part int) []canon.Event {
	for i := range d.open {
		if d.open[i].out == out && d.open[i].part == part {
			dst = append(dst, canon.Event{Type: canon.EventBlockStop, Index: d.open[i].index})
			d.open = append(d.open[:i], d.open[i+1:]...)
			return dst
		}
	}
	return dst
}

// itemDone closes an item's blocks; a reasoning item gives its
// encrypted content first, and an item whose content came whole rather
// than in deltas gives it as one delta.
func (d *StreamDecoder) itemDone(dst []canon.Event, e *streamEvent) ([]canon.Event, error) {
	it := e.Item
	if it == nil {
		return dst, canon.Fieldf("item", "required")
	}
	if b := d.find(e.OutputIndex, -1); b != nil {
		switch it.Type {
		case "function_call":
			if !b.deltas && it.Arguments != "" {
				dst = append(dst, canon.Event{Type: canon.EventToolArgsDelta, Index: b.index, Text: it.Arguments})
			}
		case "reasoning":
			if !b.deltas && len(it.Summary) > 0 {
				dst = append(dst, canon.Event{Type: canon.EventThinkingDelta, Index: b.index, Text: joinSummary(it.Summary)})
			}
			if it.EncryptedContent != nil && *it.EncryptedContent != "" {
				dst = append(dst, canon.Event{Type: canon.EventSignatureDelta, Index: b.index, Text: *it.EncryptedContent})
			}
		}
	}
	// Close every block of the item (its parts, or itself).
	for i := 0; i < len(d.open); {
		if d.open[i].out == e.OutputIndex {
			dst = append(dst, canon.Event{Type: canon.EventBlockStop, Index: d.open[i].index})
			d.open = append(d.open[:i], d.open[i+1:]...)
			continue
		}
		i++
	}
	return dst, nil
}

// End reports whether the stream ended properly when its connection
// closed: without response.completed, response.incomplete or an error
// the answer was cut off, and End returns canon.ErrStreamTruncated.
func (d *StreamDecoder) End(dst []canon.Event) ([]canon.Event, error) {
	if d.done {
		return dst, nil
	}
	return dst, canon.ErrStreamTruncated
}

// encBlock is the state of one canonical block in the encoder.
type encBlock struct {
	kind     canon.BlockKind
	out      int
	open     bool
	skip     bool // redacted thinking: not for this provider
	partOpen bool // a reasoning summary part was added
	id       []byte
	callID   []byte
	name     []byte
	text     []byte // the text, arguments or summary so far
	sig      []byte
}

// StreamEncoder turns canonical events into a Responses stream:
// "event: <type>\ndata: <json>\n\n" per event, each with a
// sequence_number counting from 0, and no [DONE]. It is stateful, one
// per stream; the zero value is ready.
//
// MessageStart is response.created and response.in_progress; a text
// block is a message item with one output_text part (a refusal a
// refusal part); a thinking block a reasoning item with one summary part
// (added at its first delta) and its signature as encrypted_content; a
// tool-use block a function_call item. MessageStop is response.completed
// (response.incomplete for max_tokens and content_filter) with the whole
// output and usage; an Error is response.failed once the response was
// created, else an error event.
type StreamEncoder struct {
	seq     int64
	id      []byte
	model   []byte
	created int64
	blocks  []encBlock
	next    int
	output  []byte // the done items, for response.completed
	item    []byte // scratch for one item
	stop    canon.StopReason
	usage   canon.Usage
	started bool
	done    bool
}

// Reset makes e ready for a new stream, keeping its memory.
func (e *StreamEncoder) Reset() {
	blocks := e.blocks[:cap(e.blocks)]
	for i := range blocks {
		b := &blocks[i]
		*b = encBlock{id: b.id[:0], callID: b.callID[:0], name: b.name[:0], text: b.text[:0], sig: b.sig[:0]}
	}
	*e = StreamEncoder{id: e.id[:0], model: e.model[:0], blocks: e.blocks[:0], output: e.output[:0], item: e.item[:0]}
}

// head writes the start of an event of type typ, up to its
// sequence_number.
func (e *StreamEncoder) head(dst []byte, typ string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, `","sequence_number":`...)
	dst = strconv.AppendInt(dst, e.seq, 10)
	e.seq++
	return dst
}

const evEnd = "}\n\n"

// AppendStreamError appends e as a Responses stream's error event with
// sequence number seq: how a stream reports a failure before (or
// without) a response.failed.
func AppendStreamError(dst []byte, seq int64, e *canon.Error) []byte {
	dst = append(dst, "event: error\ndata: {\"type\":\"error\",\"sequence_number\":"...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = canon.AppendStringField(dst, "code", errorCode(e))
	dst = canon.AppendStringField(dst, "message", e.Message)
	return append(dst, `,"param":null`+evEnd...)
}

// ref writes item_id and output_index of block b.
func ref(dst []byte, b *encBlock) []byte {
	dst = canon.AppendStringField(dst, "item_id", canon.View(b.id))
	return canon.AppendIntField(dst, "output_index", int64(b.out))
}

// Append appends the Responses events for ev to dst. Events after the
// end are ignored; an event out of order is an error.
func (e *StreamEncoder) Append(dst []byte, ev *canon.Event) ([]byte, error) {
	if e.done {
		return dst, nil
	}
	switch ev.Type {
	case canon.EventPing:
		return dst, nil
	case canon.EventError:
		e.done = true
		if !e.started {
			dst = AppendStreamError(dst, e.seq, &ev.Error)
			e.seq++
			return dst, nil
		}
		dst = e.head(dst, "response.failed")
		dst = appendObjectHead(canon.AppendKey(dst, "response"), canon.View(e.id), canon.View(e.model), e.created, "failed")
		dst = append(canon.AppendKey(dst, "error"), '{')
		dst = canon.AppendStringField(dst, "code", errorCode(&ev.Error))
		dst = append(canon.AppendStringField(dst, "message", ev.Error.Message), '}')
		dst = append(append(append(dst, `,"output":[`...), e.output...), ']')
		dst = appendObjectTail(dst, "", nil, false)
		return append(dst, evEnd...), nil
	case canon.EventMessageStart:
		if e.started {
			return dst, errEvent(ev, "a second message_start")
		}
		e.started = true
		e.id = append(e.id[:0], ev.ID...)
		if len(e.id) == 0 {
			e.id = append(e.id, "resp_switchboard"...)
		}
		e.model = append(e.model[:0], ev.Model...)
		e.created = created(ev.Created)
		for _, typ := range [...]string{"response.created", "response.in_progress"} {
			dst = e.head(dst, typ)
			dst = appendObjectHead(canon.AppendKey(dst, "response"), canon.View(e.id), canon.View(e.model), e.created, "in_progress")
			dst = append(dst, `,"output":[]`...)
			dst = appendObjectTail(dst, "", nil, false)
			dst = append(dst, evEnd...)
		}
		return dst, nil
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
		if ev.Index >= len(e.blocks) || !e.blocks[ev.Index].open {
			return dst, errEvent(ev, "a block that did not start")
		}
		return e.blockStop(dst, &e.blocks[ev.Index]), nil
	case canon.EventMessageDelta:
		for i := range e.blocks {
			if e.blocks[i].open {
				dst = e.blockStop(dst, &e.blocks[i])
			}
		}
		e.stop, e.usage = ev.StopReason, ev.Usage
		return dst, nil
	case canon.EventMessageStop:
		for i := range e.blocks {
			if e.blocks[i].open {
				dst = e.blockStop(dst, &e.blocks[i])
			}
		}
		e.done = true
		st, reason := status(e.stop)
		dst = e.head(dst, "response."+st)
		dst = appendObjectHead(canon.AppendKey(dst, "response"), canon.View(e.id), canon.View(e.model), e.created, st)
		dst = append(append(append(dst, `,"output":[`...), e.output...), ']')
		dst = appendObjectTail(dst, reason, &e.usage, true)
		return append(dst, evEnd...), nil
	}
	return dst, errEvent(ev, "unknown event type")
}

func (e *StreamEncoder) blockStart(dst []byte, ev *canon.Event) ([]byte, error) {
	if ev.Index < 0 || ev.Index > len(e.blocks)+1024 {
		return dst, errEvent(ev, "a block index out of range")
	}
	for len(e.blocks) <= ev.Index {
		if len(e.blocks) < cap(e.blocks) {
			e.blocks = e.blocks[:len(e.blocks)+1]
			b := &e.blocks[len(e.blocks)-1]
			*b = encBlock{id: b.id[:0], callID: b.callID[:0], name: b.name[:0], text: b.text[:0], sig: b.sig[:0]}
		} else {
			e.blocks = append(e.blocks, encBlock{})
		}
	}
	b := &e.blocks[ev.Index]
	if b.open || b.kind != 0 {
		return dst, errEvent(ev, "a block that already started")
	}
	b.kind, b.open = ev.Kind, true
	if ev.Kind == canon.BlockRedactedThinking {
		b.skip = true
		return dst, nil
	}
	b.out = e.next
	e.next++
	var prefix string
	switch ev.Kind {
	case canon.BlockText, canon.BlockRefusal:
		prefix = "msg_"
	case canon.BlockThinking:
		prefix = "rs_"
	case canon.BlockToolUse:
		prefix = "fc_"
	default:
		return dst, errEvent(ev, "a block of kind "+ev.Kind.String())
	}
	if ev.Kind == canon.BlockThinking && ev.ID != "" {
		b.id = append(b.id[:0], ev.ID...)
	} else {
		b.id = appendItemID(b.id[:0], prefix, e.id, b.out)
	}
	dst = e.head(dst, "response.output_item.added")
	dst = canon.AppendIntField(dst, "output_index", int64(b.out))
	dst = canon.AppendKey(dst, "item")
	switch ev.Kind {
	case canon.BlockText, canon.BlockRefusal:
		dst = append(dst, `{"id":`...)
		dst = canon.AppendString(dst, canon.View(b.id))
		dst = append(dst, `,"type":"message","status":"in_progress","role":"assistant","content":[]}`+evEnd...)
		dst = e.head(dst, "response.content_part.added")
		dst = ref(dst, b)
		dst = append(dst, `,"content_index":0,"part":`...)
		dst = appendEmptyPart(dst, ev.Kind)
	case canon.BlockThinking:
		dst = append(dst, `{"id":`...)
		dst = canon.AppendString(dst, canon.View(b.id))
		dst = append(dst, `,"type":"reasoning","summary":[]}`...)
	case canon.BlockToolUse:
		b.callID = append(b.callID[:0], ev.ID...)
		b.name = append(b.name[:0], ev.Name...)
		dst = append(dst, `{"id":`...)
		dst = canon.AppendString(dst, canon.View(b.id))
		dst = append(dst, `,"type":"function_call","status":"in_progress","arguments":""`...)
		dst = canon.AppendStringField(dst, "call_id", ev.ID)
		dst = append(canon.AppendStringField(dst, "name", ev.Name), '}')
	}
	return append(dst, evEnd...), nil
}

func appendEmptyPart(dst []byte, k canon.BlockKind) []byte {
	if k == canon.BlockRefusal {
		return append(dst, `{"type":"refusal","refusal":""}`...)
	}
	return append(dst, `{"type":"output_text","text":"","annotations":[]}`...)
}

// appendItemID appends an item id: prefix, the response id without its
// "resp_", "_", the output index (as itemID).
func appendItemID(dst []byte, prefix string, respID []byte, out int) []byte {
	if len(respID) > 5 && string(respID[:5]) == "resp_" {
		respID = respID[5:]
	}
	dst = append(dst, prefix...)
	dst = append(dst, respID...)
	dst = append(dst, '_')
	return strconv.AppendInt(dst, int64(out), 10)
}

func (e *StreamEncoder) delta(dst []byte, ev *canon.Event) ([]byte, error) {
	if ev.Index < 0 || ev.Index >= len(e.blocks) || !e.blocks[ev.Index].open {
		return dst, errEvent(ev, "a delta for a block that did not start")
	}
	b := &e.blocks[ev.Index]
	if b.skip {
		return dst, nil
	}
	switch {
	case ev.Type == canon.EventTextDelta && (b.kind == canon.BlockText || b.kind == canon.BlockRefusal):
		if ev.Text == "" {
			return dst, nil
		}
		typ := "response.output_text.delta"
		if b.kind == canon.BlockRefusal {
			typ = "response.refusal.delta"
		}
		dst = ref(e.head(dst, typ), b)
		dst = append(dst, `,"content_index":0`...)
	case ev.Type == canon.EventThinkingDelta && b.kind == canon.BlockThinking:
		if ev.Text == "" {
			return dst, nil
		}
		if !b.partOpen {
			b.partOpen = true
			dst = ref(e.head(dst, "response.reasoning_summary_part.added"), b)
			dst = append(dst, `,"summary_index":0,"part":{"type":"summary_text","text":""}`+evEnd...)
		}
		dst = ref(e.head(dst, "response.reasoning_summary_text.delta"), b)
		dst = append(dst, `,"summary_index":0`...)
	case ev.Type == canon.EventSignatureDelta && b.kind == canon.BlockThinking:
		b.sig = append(b.sig, ev.Text...)
		return dst, nil
	case ev.Type == canon.EventToolArgsDelta && b.kind == canon.BlockToolUse:
		if ev.Text == "" {
			return dst, nil
		}
		dst = ref(e.head(dst, "response.function_call_arguments.delta"), b)
	default:
		return dst, errEvent(ev, "a delta of the wrong kind for its block")
	}
	b.text = append(b.text, ev.Text...)
	dst = canon.AppendStringField(dst, "delta", ev.Text)
	return append(dst, evEnd...), nil
}

// blockStop writes the done events of b and keeps its item for
// response.completed.
func (e *StreamEncoder) blockStop(dst []byte, b *encBlock) []byte {
	b.open = false
	if b.skip {
		return dst
	}
	text := canon.View(b.text)
	it := e.item[:0]
	switch b.kind {
	case canon.BlockText, canon.BlockRefusal:
		typ, field := "response.output_text.done", "text"
		if b.kind == canon.BlockRefusal {
			typ, field = "response.refusal.done", "refusal"
		}
		dst = ref(e.head(dst, typ), b)
		dst = append(dst, `,"content_index":0`...)
		dst = append(canon.AppendStringField(dst, field, text), evEnd...)
		part := &canon.Block{Kind: b.kind, Text: text}
		dst = ref(e.head(dst, "response.content_part.done"), b)
		dst = append(dst, `,"content_index":0,"part":`...)
		dst = append(appendOutputPart(dst, part), evEnd...)
		it = append(it, `{"id":`...)
		it = canon.AppendString(it, canon.View(b.id))
		it = append(it, `,"type":"message","status":"completed","role":"assistant","content":[`...)
		it = append(appendOutputPart(it, part), ']', '}')
	case canon.BlockThinking:
		if b.partOpen {
			dst = ref(e.head(dst, "response.reasoning_summary_text.done"), b)
			dst = append(canon.AppendStringField(append(dst, `,"summary_index":0`...), "text", text), evEnd...)
			dst = ref(e.head(dst, "response.reasoning_summary_part.done"), b)
			dst = append(dst, `,"summary_index":0,"part":{"type":"summary_text"`...)
			dst = append(canon.AppendStringField(dst, "text", text), '}')
			dst = append(dst, evEnd...)
		}
		it = append(it, `{"id":`...)
		it = canon.AppendString(it, canon.View(b.id))
		it = append(it, `,"type":"reasoning","summary":[`...)
		if text != "" {
			it = append(canon.AppendStringField(append(it, `{"type":"summary_text"`...), "text", text), '}')
		}
		it = append(it, ']')
		if len(b.sig) > 0 {
			it = canon.AppendStringField(it, "encrypted_content", canon.View(b.sig))
		}
		it = append(it, '}')
	case canon.BlockToolUse:
		args := text
		if args == "" {
			args = "{}"
		}
		dst = ref(e.head(dst, "response.function_call_arguments.done"), b)
		dst = append(canon.AppendStringField(dst, "arguments", args), evEnd...)
		it = appendFunctionCall(it, canon.View(b.id), canon.View(b.callID), canon.View(b.name), args, "completed")
	}
	e.item = it
	dst = e.head(dst, "response.output_item.done")
	dst = canon.AppendIntField(dst, "output_index", int64(b.out))
	dst = append(append(canon.AppendKey(dst, "item"), it...), evEnd...)
	e.output = append(canon.AppendElem(e.output), it...)
	return dst
}

// errorCode is the code of a stream error: the error's type as the
// source named it, else the OpenAI type for its status.
func errorCode(e *canon.Error) string {
	if e.Type != "" {
		return e.Type
	}
	return openai.ErrorType(e.Status)
}

func errEvent(ev *canon.Event, what string) error {
	return canon.Fieldf("event", "%s: %s", ev.Type, what)
}
