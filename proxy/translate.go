package proxy

import (
	"errors"
	"fmt"
	"sync"

	"switchboard/router"
	"switchboard/upstream"
	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/gemini"
	"switchboard/upstream/openai"
	"switchboard/upstream/responses"
)

// streamDecoder reads one format's stream events into canonical events.
type streamDecoder interface {
	Reset()
	Decode(dst []canon.Event, data []byte) ([]canon.Event, error)
	End(dst []canon.Event) ([]canon.Event, error)
}

// streamEncoder writes canonical events as one format's stream.
type streamEncoder interface {
	Reset()
	Append(dst []byte, ev *canon.Event) ([]byte, error)
}

// translation is a call's state when its client and its target speak
// different wire formats (an Anthropic client and an OpenAI-format
// provider, a Responses client and a Gemini one, ...), or when the
// gateway rewrote the request: the request decoded once into the
// canonical model, and a stream decoder and encoder per format, of which
// a call uses one pair (wireFormat.decoder and .encoder pick them).
// Pooled with the call.
type translation struct {
	req     canon.Request
	decoded bool
	// rewritten: the gateway changed the canonical request (web results,
	// compression), so it goes to every target through the codecs.
	rewritten bool
	clean     []byte // the client's body without the gateway's own fields
	resp      canon.Response
	oaDec     openai.StreamDecoder
	anDec     anthropic.StreamDecoder
	rsDec     responses.StreamDecoder
	gmDec     gemini.StreamDecoder
	oaEnc     openai.StreamEncoder
	anEnc     anthropic.StreamEncoder
	rsEnc     responses.StreamEncoder
	gmEnc     gemini.StreamEncoder
	events    []canon.Event
	out       []byte
	costed    []byte
	tail      []byte // the end of a stream, assembled at EOF
	// used has a bit per format whose decoder or encoder the call took:
	// only those need a reset (most calls take none).
	used uint8
}

// translationPool holds the translation state of calls that go through
// the codecs: a pass-through call, most of the traffic, holds none of its
// 2.5 KiB (an open stream's memory counts it).
var translationPool = sync.Pool{New: func() any { return new(translation) }}

// translation returns the call's translation state, taken from
// translationPool on first use; the call's reset gives it back.
func (c *call) translation() *translation {
	if c.tr == nil {
		c.tr = translationPool.Get().(*translation)
	}
	return c.tr
}

// rewritten reports whether the gateway changed the canonical request
// (web results, compression), so it goes to every target through the
// codecs.
func (c *call) rewritten() bool { return c.tr != nil && c.tr.rewritten }

func (tr *translation) reset() {
	tr.decoded, tr.rewritten = false, false
	// The decoded request and answer point into the call's bodies: let
	// them go (decoding allocates them anew).
	tr.req, tr.resp = canon.Request{}, canon.Response{}
	for f := range formats {
		if tr.used&(1<<f) != 0 {
			formats[f].decoder(tr).Reset()
			formats[f].encoder(tr).Reset()
		}
	}
	tr.used = 0
	tr.clean, tr.events, tr.out = reuse(tr.clean), reuse(tr.events), reuse(tr.out)
	tr.costed, tr.tail = reuse(tr.costed), reuse(tr.tail)
}

// decoder is the stream decoder of format f, marked as used.
func (tr *translation) decoder(f *wireFormat) streamDecoder {
	tr.used |= 1 << f.index()
	return f.decoder(tr)
}

// encoder is the stream encoder of format f, marked as used.
func (tr *translation) encoder(f *wireFormat) streamEncoder {
	tr.used |= 1 << f.index()
	return f.encoder(tr)
}

// translatable reports whether a call on surface sf can go to a provider
// of format f: its own format, or any format for the chat surfaces
// (chat completions, Messages, Responses, Gemini's generateContent).
func translatable(sf *surface, f upstream.Format) bool {
	return f == sf.format || sf.chat
}

// translatedBody returns the request for target t in t's format, and the
// endpoint it goes to. The client's body is decoded once per call.
func (s *Server) translatedBody(c *call, body []byte, t *router.Target) ([]byte, upstream.Endpoint, error) {
	r := &c.translation().req
	if err := c.decodeRequest(body); err != nil {
		return nil, 0, err
	}
	r.Model = t.Model
	maxOut := s.billing.defaultMaxOutput
	if t.Entry != nil && t.Entry.MaxOutput > 0 {
		maxOut = int64(t.Entry.MaxOutput)
	}
	if s.autoCache(c, t, body) {
		markCanonRequest(r, s.promptCache.marker)
		c.ctx.Response.Header.Set(headerPromptCache, "auto")
	}
	f := formatOf(t.Provider.Format)
	var err error
	if c.body, err = f.encodeRequest(c.body[:0], r, maxOut); err != nil {
		return nil, 0, translationError(err)
	}
	ep := f.endpoint(r.Stream)
	c.setIgnoredHeader(r.Ignored) // the decoder's, and what the encoder left out
	return c.body, ep, nil
}

// decodeRequest decodes the client's body into the translation's req,
// once per call.
func (c *call) decodeRequest(body []byte) error {
	tr := c.translation()
	if tr.decoded {
		return nil
	}
	r := &tr.req
	if len(c.strips) > 0 { // the gateway's own fields are not the provider's
		es := append(c.edits[:0], c.strips...)
		sortEdits(es)
		tr.clean = appendEdited(tr.clean[:0], body, es...)
		body = tr.clean
	}
	if err := c.format.decodeRequest(body, r); err != nil {
		return translationError(err)
	}
	if c.format.modelInPath { // the URL says these
		r.Stream = c.fields.stream
		r.IncludeUsage = c.fields.stream
	}
	tr.decoded = true
	return nil
}

// translating reports whether a call to provider p goes through the
// codecs: p speaks another format than the client, or the gateway
// rewrote the request.
func (c *call) translating(p *upstream.Provider) bool {
	return p.Format != c.surface.format || c.rewritten()
}

// headerIgnored lists the request's fields the target's format has no
// counterpart for and that were left out (hints such as store or
// context_management, Codex's web_search tool): never silently.
const headerIgnored = "x-switchboard-ignored"

func (c *call) setIgnoredHeader(ignored []string) {
	if len(ignored) == 0 {
		return
	}
	c.scratch = c.scratch[:0]
	for i, f := range ignored {
		if i > 0 {
			c.scratch = append(c.scratch, ", "...)
		}
		c.scratch = appendHeaderSafe(c.scratch, f)
	}
	c.ctx.Response.Header.SetBytesV(headerIgnored, c.scratch)
}

// translationError makes a field the other format cannot express a 400
// naming it.
func translationError(err error) error {
	var fe *canon.FieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return fmt.Errorf("%w: cannot translate the request: %v", errBadRequest, err)
}

// translateAnswer turns a buffered answer of the target's format into
// the client's, keeping its usage in c.usage. An error answer (status not
// 200) is translated into the client's error shape.
func (c *call) translateAnswer(body []byte, status int) []byte {
	tr := c.translation()
	from, to := formatOf(c.target.Provider.Format), c.format
	if status != 200 {
		tr.out = appendProviderError(tr.out[:0], body, status, from, to)
		return tr.out
	}
	err := from.decodeResponse(body, &tr.resp)
	if err == nil {
		tr.out, err = to.encodeResponse(tr.out[:0], &tr.resp)
	}
	if err != nil {
		c.status = 502
		tr.out = appendUntranslatable(tr.out[:0], to, err)
	}
	return tr.out
}

// translateEvent turns one upstream stream event into the client's
// events, keeping the usage the stream reports and adding the call's
// cost to the client's usage event.
func (r *relay) translateEvent(data []byte) ([]byte, error) {
	tr := r.c.translation()
	var err error
	tr.events, err = tr.decoder(formatOf(r.c.target.Provider.Format)).Decode(tr.events[:0], data)
	tr.out = r.encode(tr.out[:0], tr.events)
	return tr.out, err
}

// endTranslation flushes what the upstream decoder holds at the end of
// the stream.
func (r *relay) endTranslation() ([]byte, error) {
	tr := r.c.translation()
	var err error
	tr.events, err = tr.decoder(formatOf(r.c.target.Provider.Format)).End(tr.events[:0])
	tr.out = r.encode(tr.out[:0], tr.events)
	return tr.out, err
}

// encode appends events in the client's format to dst. The usage of a
// MessageDelta becomes the call's, and the cost goes into the client
// event that carries usage.
func (r *relay) encode(dst []byte, events []canon.Event) []byte {
	c := r.c
	enc := c.translation().encoder(c.format)
	for i := range events {
		ev := &events[i]
		if c.cache.store {
			c.cache.build.add(ev)
		}
		if ev.Type == canon.EventMessageDelta {
			c.usage, c.reported = ev.Usage, true
			c.computeCost()
		}
		start := len(dst)
		dst, _ = enc.Append(dst, ev)
		if c.costed && canon.HasObject(dst[start:], c.format.usageKey) {
			dst = r.costInto(dst, start)
		}
	}
	return dst
}

// costInto adds the call's cost to the usage object of each event in
// dst[start:] that has one.
func (r *relay) costInto(dst []byte, start int) []byte {
	tr := r.c.translation()
	tr.costed = append(tr.costed[:0], dst[start:]...)
	dst = dst[:start]
	for rest := tr.costed; len(rest) > 0; {
		k := nextEvent(rest)
		if k == 0 {
			k = len(rest)
		}
		ev := rest[:k]
		rest = rest[k:]
		data := eventData(ev)
		f := r.c.format
		if data == nil || !canon.HasObject(data, f.usageKey) {
			dst = append(dst, ev...)
			continue
		}
		at := cap(ev) - cap(data)
		dst = append(dst, ev[:at]...)
		dst = appendWithCost(dst, data, f.eventUsage, r.c.cost.Total, &r.c.fields.node)
		dst = append(dst, ev[at+len(data):]...)
	}
	return dst
}
