package openai

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"strconv"
	"strings"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// chunk is one chat.completion.chunk of a stream.
type chunk struct {
	ID      string        `json:"id"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	// Usage is raw, decoded when present: most chunks carry
	// "usage":null, and a *chatUsage would cost an allocation.
	Usage sonic.NoCopyRawMessage `json:"usage"`
	Error *chatError             `json:"error"`
}

// chunkChoice is a chunk's choice. The delta's texts are kept raw and
// unescaped by the decoder's canon.Unescaper: a string field with an
// escape would cost an allocation, and deltas nearly always hold one.
type chunkChoice struct {
	Index int `json:"index"`
	Delta struct {
		Content          sonic.NoCopyRawMessage `json:"content"`
		Refusal          sonic.NoCopyRawMessage `json:"refusal"`
		ReasoningContent sonic.NoCopyRawMessage `json:"reasoning_content"`
		Reasoning        sonic.NoCopyRawMessage `json:"reasoning"`
		ToolCalls        []chunkToolCall        `json:"tool_calls"`
	} `json:"delta"`
	FinishReason string `json:"finish_reason"`
}

type chunkToolCall struct {
	// Index is a json.Number so that it may be absent without a pointer.
	Index    json.Number `json:"index"`
	ID       string      `json:"id"`
	Function struct {
		Name      string                 `json:"name"`
		Arguments sonic.NoCopyRawMessage `json:"arguments"`
	} `json:"function"`
}

var done = []byte("[DONE]")

// StreamDecoder turns the data payloads of a Chat Completions stream
// (chat.completion.chunk objects and the final [DONE]) into canonical
// events. It is stateful, one per stream; the zero value is ready.
//
// Blocks: reasoning deltas ("reasoning_content", or "reasoning") open a
// thinking block, content deltas a text block, each tool_calls index a
// tool-use block; a block opens at its first non-empty delta, so there
// are no empty blocks. A thinking or text block closes when the other
// kind, or a tool call, begins. Tool-use blocks stay open until the
// finish_reason, because providers may interleave the argument deltas of
// parallel calls; every delta names its block. A call whose first delta
// lacks the function name is held back, with its argument bytes, until
// the name comes: the only buffering.
//
// Ending: the finish_reason closes the open blocks; the MessageDelta
// with the stop reason waits for the usage chunk that follows it when
// stream_options.include_usage is set (or for [DONE]), so that it
// carries the whole usage, which Anthropic clients expect in one event.
type StreamDecoder struct {
	c        chunk
	choices  []chunkChoice // c.Choices' backing array, reused
	u        chatUsage
	unesc    canon.Unescaper
	started  bool
	finished bool // finish_reason seen, blocks closed
	sentStop bool // MessageDelta emitted
	done     bool // MessageStop or Error emitted
	refusal  bool
	stop     canon.StopReason
	usage    canon.Usage
	next     int // the next block's index
	text     int // the open text block's index + 1, or 0
	think    int // the open thinking block's index + 1, or 0
	// slots maps a tool_calls index to its entry in calls. A delta with a
	// new id and a name at a used index is a new call (Ollama numbers
	// every parallel call 0); a new id alone is not (some hosts send a
	// fresh id with every delta of one call).
	slots []int
	calls []toolCall
}

type toolCall struct {
	block  int    // block index, -1 while held back
	id     string // owned copy, kept while held back
	idHash uint64 // of the call's id, to tell a new call at its index
	args   []byte // argument bytes held back
	open   bool
}

// Reset makes d ready for a new stream, keeping its memory.
func (d *StreamDecoder) Reset() {
	*d = StreamDecoder{choices: d.choices, unesc: d.unesc, slots: d.slots[:0], calls: d.calls[:0]}
}

// Usage returns the usage the stream reported so far.
func (d *StreamDecoder) Usage() canon.Usage { return d.usage }

// Decode appends the events of one data payload to dst. The events'
// strings point into data or into d: use them before the next call.
// Payloads after the end ([DONE] or an error) are ignored; an empty
// payload is.
func (d *StreamDecoder) Decode(dst []canon.Event, data []byte) ([]canon.Event, error) {
	data = canon.Trim(data)
	if len(data) == 0 || d.done {
		return dst, nil
	}
	if bytes.Equal(data, done) {
		return d.end(dst), nil
	}
	// Reuse the chunk's memory, zeroed: sonic decodes into the elements
	// of a reused slice without clearing the fields a chunk leaves out.
	// The backing array is kept aside: a chunk with "choices":[] (the
	// usage chunk) would leave c.Choices on a new, empty one.
	c := &d.c
	for i := range d.choices {
		calls := d.choices[i].Delta.ToolCalls[:cap(d.choices[i].Delta.ToolCalls)]
		clear(calls)
		d.choices[i] = chunkChoice{}
		d.choices[i].Delta.ToolCalls = calls[:0]
	}
	*c = chunk{Choices: d.choices[:0]}
	if err := canon.DecodeLenient(data, c, "chunk"); err != nil {
		return dst, err
	}
	if cap(c.Choices) > cap(d.choices) {
		d.choices = c.Choices[:cap(c.Choices)]
	}
	d.unesc.Reset()
	if c.Error != nil {
		d.done = true
		return append(dst, canon.Event{Type: canon.EventError, Error: c.Error.canon(0)}), nil
	}
	if !d.started && (len(c.Choices) > 0 || !canon.IsNull(canon.Trim(c.Usage))) {
		// Azure opens with a chunk without choices, id or model (its
		// prompt filter results): the message starts at the first real
		// chunk.
		d.started = true
		dst = append(dst, canon.Event{Type: canon.EventMessageStart, ID: c.ID, Model: c.Model, Created: c.Created})
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // n > 1 is refused in requests
		}
		var err error
		if dst, err = d.delta(dst, ch); err != nil {
			return dst, err
		}
		if ch.FinishReason != "" && !d.finished {
			d.stop = stopReason(ch.FinishReason)
			dst = d.closeBlocks(dst)
		}
	}
	if raw := canon.Trim(c.Usage); !canon.IsNull(raw) {
		d.u = chatUsage{}
		if err := canon.DecodeLenient(raw, &d.u, "usage"); err != nil {
			return dst, err
		}
		d.usage = d.u.canon()
		if d.finished && !d.sentStop {
			dst = d.stopEvent(dst)
		}
	}
	return dst, nil
}

func (d *StreamDecoder) delta(dst []canon.Event, ch *chunkChoice) ([]canon.Event, error) {
	if d.finished {
		return dst, nil
	}
	dl := &ch.Delta
	raw := dl.ReasoningContent
	if canon.IsNull(canon.Trim(raw)) {
		raw = dl.Reasoning
	}
	reasoning, err := d.unesc.String(raw)
	if err != nil {
		return dst, canon.Fieldf("delta.reasoning_content", "%v", err)
	}
	if reasoning != "" {
		dst = d.closeText(dst)
		if d.think == 0 {
			d.think = d.next + 1
			dst = d.open(dst, canon.BlockThinking, "", "")
		}
		dst = append(dst, canon.Event{Type: canon.EventThinkingDelta, Index: d.think - 1, Text: reasoning})
	}
	content, err := d.unesc.String(dl.Content)
	if err != nil {
		return dst, canon.Fieldf("delta.content", "%v", err)
	}
	dst = d.textDelta(dst, content)
	refusal, err := d.unesc.String(dl.Refusal)
	if err != nil {
		return dst, canon.Fieldf("delta.refusal", "%v", err)
	}
	if refusal != "" {
		d.refusal = true
		dst = d.textDelta(dst, refusal)
	}
	for k := range dl.ToolCalls {
		if dst, err = d.toolDelta(dst, &dl.ToolCalls[k], k); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// textDelta appends a text delta, opening the text block first; a
// refusal is text too, and makes the stop reason "refusal".
func (d *StreamDecoder) textDelta(dst []canon.Event, text string) []canon.Event {
	if text == "" {
		return dst
	}
	dst = d.closeThinking(dst)
	if d.text == 0 {
		d.text = d.next + 1
		dst = d.open(dst, canon.BlockText, "", "")
	}
	return append(dst, canon.Event{Type: canon.EventTextDelta, Index: d.text - 1, Text: text})
}

// maxToolCalls bounds the tool_calls index a stream may use, so that a
// hostile index cannot make the decoder allocate without end.
const maxToolCalls = 1024

func (d *StreamDecoder) toolDelta(dst []canon.Event, tc *chunkToolCall, pos int) ([]canon.Event, error) {
	i := pos
	if tc.Index != "" {
		n, err := strconv.Atoi(string(tc.Index))
		if err != nil || n < 0 || n >= maxToolCalls {
			return dst, canon.Fieldf("tool_calls.index", "want 0 to %d, got %.20s", maxToolCalls-1, tc.Index)
		}
		i = n
	}
	for len(d.slots) <= i {
		d.slots = append(d.slots, -1)
	}
	s := d.slots[i]
	if s < 0 || tc.Function.Name != "" && tc.ID != "" && d.calls[s].idHash != 0 && hashID(tc.ID) != d.calls[s].idHash {
		s = len(d.calls)
		d.slots[i] = s
		d.calls = append(d.calls, toolCall{block: -1})
	}
	t := &d.calls[s]
	if t.idHash == 0 && tc.ID != "" {
		t.idHash = hashID(tc.ID)
	}
	args, err := d.unesc.String(tc.Function.Arguments)
	if err != nil {
		return dst, canon.Fieldf("tool_calls.function.arguments", "%v", err)
	}
	if t.block >= 0 {
		if args != "" {
			dst = append(dst, canon.Event{Type: canon.EventToolArgsDelta, Index: t.block, Text: args})
		}
		return dst, nil
	}
	name := tc.Function.Name
	if name == "" {
		if t.id == "" && tc.ID != "" {
			t.id = strings.Clone(tc.ID) // the call starts in a later payload
		}
		t.args = append(t.args, args...)
		return dst, nil
	}
	if tc.ID != "" {
		t.id = tc.ID // the call starts now: the event may point into data
	}
	return d.startCall(dst, t, name, args), nil
}

var idSeed = maphash.MakeSeed()

// hashID hashes a call id; 0 is kept for "no id".
func hashID(id string) uint64 { return maphash.String(idSeed, id) | 1 }

// startCall opens the tool-use block of t, with its held-back
// arguments and then args.
func (d *StreamDecoder) startCall(dst []canon.Event, t *toolCall, name, args string) []canon.Event {
	dst = d.closeThinking(d.closeText(dst))
	t.block, t.open = d.next, true
	id := t.id
	if id == "" {
		id = "call_" + strconv.Itoa(t.block)
	}
	dst = d.open(dst, canon.BlockToolUse, id, name)
	if len(t.args) > 0 {
		dst = append(dst, canon.Event{Type: canon.EventToolArgsDelta, Index: t.block, Text: canon.View(t.args)})
		t.args = nil // the event refers to it
	}
	if args != "" {
		dst = append(dst, canon.Event{Type: canon.EventToolArgsDelta, Index: t.block, Text: args})
	}
	return dst
}

func (d *StreamDecoder) open(dst []canon.Event, k canon.BlockKind, id, name string) []canon.Event {
	dst = append(dst, canon.Event{Type: canon.EventBlockStart, Index: d.next, Kind: k, ID: id, Name: name})
	d.next++
	return dst
}

func (d *StreamDecoder) closeText(dst []canon.Event) []canon.Event {
	if d.text != 0 {
		dst = append(dst, canon.Event{Type: canon.EventBlockStop, Index: d.text - 1})
		d.text = 0
	}
	return dst
}

func (d *StreamDecoder) closeThinking(dst []canon.Event) []canon.Event {
	if d.think != 0 {
		dst = append(dst, canon.Event{Type: canon.EventBlockStop, Index: d.think - 1})
		d.think = 0
	}
	return dst
}

// closeBlocks ends the content: calls still held back start (with
// whatever name they have), and every open block stops, in index order.
func (d *StreamDecoder) closeBlocks(dst []canon.Event) []canon.Event {
	d.finished = true
	for s := range d.calls {
		if t := &d.calls[s]; t.block < 0 {
			dst = d.startCall(dst, t, "", "")
		}
	}
	for b := 0; b < d.next; b++ {
		switch {
		case d.text == b+1:
			dst = d.closeText(dst)
		case d.think == b+1:
			dst = d.closeThinking(dst)
		default:
			for s := range d.calls {
				if t := &d.calls[s]; t.block == b && t.open {
					t.open = false
					dst = append(dst, canon.Event{Type: canon.EventBlockStop, Index: b})
				}
			}
		}
	}
	if d.stop == canon.StopEndTurn {
		switch {
		case len(d.calls) > 0:
			d.stop = canon.StopToolUse // some providers finish tool calls with "stop"
		case d.refusal:
			d.stop = canon.StopRefusal
		}
	}
	return dst
}

func (d *StreamDecoder) stopEvent(dst []canon.Event) []canon.Event {
	d.sentStop = true
	return append(dst, canon.Event{Type: canon.EventMessageDelta, StopReason: d.stop, Usage: d.usage})
}

// end handles [DONE]: what has not been said is said, and the message
// stops. A stream without a finish_reason ends as end_turn (or tool_use
// after tool calls).
func (d *StreamDecoder) end(dst []canon.Event) []canon.Event {
	if !d.started {
		d.started = true
		dst = append(dst, canon.Event{Type: canon.EventMessageStart})
	}
	if !d.finished {
		d.stop = canon.StopEndTurn
		dst = d.closeBlocks(dst)
	}
	if !d.sentStop {
		dst = d.stopEvent(dst)
	}
	d.done = true
	return append(dst, canon.Event{Type: canon.EventMessageStop})
}

// End appends the events that close a stream whose connection ended
// without [DONE]. After a finish_reason the answer is whole: the
// pending events are appended. Before it, the answer was cut off and End
// returns canon.ErrStreamTruncated; the caller reports it in-band.
func (d *StreamDecoder) End(dst []canon.Event) ([]canon.Event, error) {
	switch {
	case d.done:
		return dst, nil
	case d.finished:
		return d.end(dst), nil
	}
	return dst, canon.ErrStreamTruncated
}

// StreamEncoder turns canonical events into a Chat Completions stream:
// "data: {chunk}\n\n" lines and the final "data: [DONE]\n\n". It is
// stateful, one per stream; the zero value is ready.
//
// Every event is written as soon as it comes: text deltas as "content",
// thinking deltas as "reasoning_content", a tool-use block's start as a
// tool_calls delta with its index, id and name, its argument deltas as
// tool_calls deltas with the same index. Signatures and block stops have
// no equivalent and write nothing; a ping writes an SSE comment. The
// first MessageDelta writes the finish_reason chunk; MessageStop writes
// the usage chunk (when IncludeUsage) and [DONE]; Error writes a chunk
// holding an "error" object, which ends the stream.
type StreamEncoder struct {
	// IncludeUsage ends the stream with a usage chunk, as
	// stream_options.include_usage asks.
	IncludeUsage bool
	// Created is the chunks' "created"; 0 takes MessageStart's, or the
	// current time.
	Created int64

	head     []byte // `data: {"id":...,"choices":[` shared by every chunk
	tools    []int  // block index -> tool_calls index + 1, 0 for other blocks
	nTools   int
	usage    canon.Usage
	finished bool
	done     bool
}

// Reset makes e ready for a new stream with the same settings, keeping
// its memory.
func (e *StreamEncoder) Reset() {
	*e = StreamEncoder{IncludeUsage: e.IncludeUsage, head: e.head[:0], tools: e.tools[:0]}
}

var (
	chunkDeltaOpen = []byte(`{"index":0,"delta":{`)
	chunkClose     = []byte(`},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	doneLine       = []byte("data: [DONE]\n\n")
	pingLine       = []byte(": ping\n\n")
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
		dst = append(dst, "data: "...)
		dst = AppendError(dst, &ev.Error)
		return append(dst, '\n', '\n'), nil
	case canon.EventPing:
		return append(dst, pingLine...), nil
	case canon.EventMessageStart:
		if len(e.head) > 0 {
			return dst, errEvent(ev, "a second message_start")
		}
		t := e.Created
		if t == 0 {
			t = created(ev.Created)
		}
		e.head = append(e.head, `data: {`...)
		e.head = canon.AppendStringField(e.head, "id", ev.ID)
		e.head = append(e.head, `,"object":"chat.completion.chunk"`...)
		e.head = canon.AppendIntField(e.head, "created", t)
		e.head = canon.AppendStringField(e.head, "model", ev.Model)
		e.head = append(e.head, `,"choices":[`...)
		dst = append(dst, e.head...)
		dst = append(dst, chunkDeltaOpen...)
		dst = append(dst, `"role":"assistant","content":""`...)
		return append(dst, chunkClose...), nil
	}
	if len(e.head) == 0 {
		return dst, errEvent(ev, "no message_start before")
	}
	switch ev.Type {
	case canon.EventBlockStart:
		for len(e.tools) <= ev.Index {
			e.tools = append(e.tools, 0)
		}
		if ev.Kind != canon.BlockToolUse {
			return dst, nil
		}
		e.nTools++
		e.tools[ev.Index] = e.nTools
		return e.appendToolCall(dst, e.nTools-1, ev.ID, ev.Name, ""), nil
	case canon.EventTextDelta, canon.EventThinkingDelta:
		if ev.Text == "" {
			return dst, nil
		}
		name := "content"
		if ev.Type == canon.EventThinkingDelta {
			name = "reasoning_content"
		}
		dst = append(append(dst, e.head...), chunkDeltaOpen...)
		dst = canon.AppendStringField(dst, name, ev.Text)
		return append(dst, chunkClose...), nil
	case canon.EventToolArgsDelta:
		if ev.Index >= len(e.tools) || e.tools[ev.Index] == 0 {
			return dst, errEvent(ev, "arguments of a block that is not a started tool call")
		}
		if ev.Text == "" {
			return dst, nil
		}
		return e.appendToolCall(dst, e.tools[ev.Index]-1, "", "", ev.Text), nil
	case canon.EventSignatureDelta, canon.EventBlockStop:
		return dst, nil
	case canon.EventMessageDelta:
		e.usage = ev.Usage
		if e.finished {
			return dst, nil
		}
		return e.appendFinish(dst, ev.StopReason), nil
	case canon.EventMessageStop:
		if !e.finished {
			dst = e.appendFinish(dst, canon.StopEndTurn)
		}
		if e.IncludeUsage {
			dst = append(dst, e.head...)
			dst = appendUsage(append(dst, `],"usage":`...), &e.usage)
			dst = append(dst, '}', '\n', '\n')
		}
		e.done = true
		return append(dst, doneLine...), nil
	}
	return dst, errEvent(ev, "unknown event type")
}

func (e *StreamEncoder) appendToolCall(dst []byte, i int, id, name, args string) []byte {
	dst = append(append(dst, e.head...), chunkDeltaOpen...)
	dst = append(canon.AppendKey(dst, "tool_calls"), '[')
	dst = appendToolCall(dst, i, id, name, args)
	dst = append(dst, ']')
	return append(dst, chunkClose...)
}

func (e *StreamEncoder) appendFinish(dst []byte, s canon.StopReason) []byte {
	e.finished = true
	dst = append(append(dst, e.head...), chunkDeltaOpen...)
	dst = append(dst, `},"logprobs":null`...)
	dst = canon.AppendStringField(dst, "finish_reason", finishReason(s))
	return append(dst, "}]}\n\n"...)
}

func errEvent(ev *canon.Event, what string) error {
	return &canon.FieldError{Field: "stream event " + ev.Type.String(), Reason: what}
}
