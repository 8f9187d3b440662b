package compress

import (
	"sync"

	"switchboard/upstream/canon"
)

// Report says what Compress did to a request.
type Report struct {
	// Before and After are the prompt's tokens (see Tokens) before and
	// after compression; both 0 when compression was off.
	Before, After int
	// Budget is the token budget the lossy stages aimed at; 0 when there
	// was none (no Options.Budget and no context window).
	Budget int
	// Applied are the stages that changed something.
	Applied Stages
	// Changed counts, per stage, what it changed: duplicates replaced,
	// JSON results minified, texts with whitespace collapsed, tool
	// results truncated, messages dropped.
	Changed [NumStages]int
	// SavedBy is the tokens each stage saved (MiddleOut's net of what it
	// spent putting back content a dropped first copy held for a dedupe
	// pointer that stays).
	SavedBy [NumStages]int
}

// Saved returns the tokens compression saved in all.
func (r *Report) Saved() int { return r.Before - r.After }

// Over reports whether the prompt is still over the budget.
func (r *Report) Over() bool { return r.Budget > 0 && r.After > r.Budget }

// Compress shrinks r in place by the stages o lists and reports the
// tokens before and after. contextWindow is the model's context window
// in tokens (0 when unknown); with o.Budget it sets the budget the lossy
// stages aim at (see Options.Budget).
//
// The stages run in order: Dedupe, Minify and Whitespace always (they
// lose nothing a model needs), then, only while the prompt is over
// budget, Truncate on the older tool results, MiddleOut, and Truncate on
// the protected last messages as a last resort. Decisions on a turn
// depend only on that turn and the ones before it, so an earlier turn
// compresses to the same bytes on every later request of a conversation
// and the provider's prompt cache keeps hitting (see doc.go).
//
// Compress never touches thinking blocks, tool calls' inputs, images or
// files; it never separates a tool call from its result. With no stage
// in o it returns a zero Report at once. It is safe to call
// concurrently on different requests.
func Compress(r *canon.Request, o Options, contextWindow int) Report {
	if o.Stages&All == 0 {
		return Report{}
	}
	o.EnsureDefaults()
	c := acquireCompressor(r, o)
	defer releaseCompressor(c)
	c.run(contextWindow)
	return c.rep
}

// compressor is one Compress call's state, pooled.
type compressor struct {
	r   *canon.Request
	o   Options
	rep Report

	// Token accounting: the system prompt's and tools' tokens, each
	// message's, the total; dirty marks what a stage changed, for stage
	// to recount.
	sysTok, toolTok int
	msgTok          []int
	total           int
	dirtySys        bool
	dirty           []bool

	// Dedupe's bookkeeping (see dedupe.go).
	seen    map[string]int32
	names   map[string]string
	groups  []group
	members []member

	// Pairing spans for middle-out (see middleout.go).
	spans   map[string]span
	crossed []int32

	buf []byte // scratch for rewritten texts
}

var compressorPool = sync.Pool{New: func() any {
	return &compressor{
		seen:  make(map[string]int32),
		names: make(map[string]string),
		spans: make(map[string]span),
	}
}}

// maxPooledBuf bounds the scratch buffer a pooled compressor keeps.
const maxPooledBuf = 1 << 20

func acquireCompressor(r *canon.Request, o Options) *compressor {
	c := compressorPool.Get().(*compressor)
	c.r, c.o = r, o
	return c
}

func releaseCompressor(c *compressor) {
	c.r = nil
	c.rep = Report{}
	c.sysTok, c.toolTok, c.total, c.dirtySys = 0, 0, 0, false
	c.msgTok = c.msgTok[:0]
	c.dirty = c.dirty[:0]
	clear(c.seen)
	clear(c.names)
	clear(c.spans)
	c.groups = c.groups[:0]
	c.members = c.members[:0]
	c.crossed = c.crossed[:0]
	if cap(c.buf) > maxPooledBuf {
		c.buf = nil
	}
	compressorPool.Put(c)
}

func (c *compressor) run(window int) {
	c.countAll()
	c.rep.Before = c.total
	c.stage(Dedupe, c.dedupe)
	c.stage(Minify, c.minify)
	c.stage(Whitespace, c.whitespace)
	budget := budgetFor(c.o.Budget, window, c.r.MaxTokens)
	c.rep.Budget = budget
	if budget > 0 && c.total > budget && c.o.Stages&Lossy != 0 {
		c.lossy(budget)
	}
	c.rep.After = c.total
}

// budgetFor is the budget the lossy stages aim at: the context window
// minus the answer's max tokens, or the configured budget, whichever is
// smaller; 0 for none.
func budgetFor(configured, window int, maxTokens int64) int {
	b := 0
	if window > 0 && int64(window) > maxTokens {
		b = window - int(maxTokens)
	}
	if configured > 0 && (b == 0 || configured < b) {
		b = configured
	}
	return b
}

// lossy runs the lossy stages while the prompt is over budget.
func (c *compressor) lossy(budget int) {
	head := headEnd(c.r.Messages)
	c.computeSpans()
	tail := c.tailStart(head)
	c.stage(Truncate, func() { c.truncateOlder(head, tail) })
	if c.total > budget {
		c.stage(MiddleOut, func() { tail = c.middleOut(head, tail, budget) })
	}
	if c.total > budget {
		c.stage(Truncate, func() { c.truncateRange(head, len(c.r.Messages), nil) })
	}
}

// countAll counts every part of the request afresh.
func (c *compressor) countAll() {
	r := c.r
	c.sysTok = BlockTokens(r.System)
	c.toolTok = ToolTokens(r.Tools)
	c.total = c.sysTok + c.toolTok
	c.msgTok = grow(c.msgTok, len(r.Messages))
	c.dirty = grow(c.dirty, len(r.Messages))
	for i := range r.Messages {
		n := MessageTokens(&r.Messages[i])
		c.msgTok[i] = n
		c.total += n
	}
}

// stage runs stage st, if o lists it, then recounts what it changed and
// books its savings.
func (c *compressor) stage(st Stage, run func()) {
	if !c.o.Stages.Has(st) {
		return
	}
	before := c.total
	run()
	if c.dirtySys {
		c.total -= c.sysTok
		c.sysTok = BlockTokens(c.r.System)
		c.total += c.sysTok
		c.dirtySys = false
	}
	for i, d := range c.dirty {
		if d {
			c.total -= c.msgTok[i]
			c.msgTok[i] = MessageTokens(&c.r.Messages[i])
			c.total += c.msgTok[i]
			c.dirty[i] = false
		}
	}
	c.rep.SavedBy[st] += before - c.total
	if c.rep.Changed[st] > 0 {
		c.rep.Applied = c.rep.Applied.With(st)
	}
}

// markDirty records that message i (-1: the system prompt) changed.
func (c *compressor) markDirty(i int) {
	if i < 0 {
		c.dirtySys = true
	} else {
		c.dirty[i] = true
	}
}

// grow returns s resized to n zero elements, reusing its array.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}
