package proxy

import (
	"errors"
	"fmt"

	"switchboard/router"
	"switchboard/upstream"
	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/gemini"
	"switchboard/upstream/openai"
	"switchboard/upstream/responses"
)

// codec is one wire format's translation functions (package openai,
// anthropic, responses or gemini).
type codec struct {
	name           string
	decodeRequest  func([]byte, *canon.Request) error
	decodeResponse func([]byte, *canon.Response) error
	encodeResponse func([]byte, *canon.Response) ([]byte, error)
	decodeError    func([]byte, int) canon.Error
	appendError    func([]byte, *canon.Error) []byte
}

// codecs holds each format's codec, by upstream.Format.
var codecs = [...]codec{
	upstream.FormatOpenAI: {"OpenAI chat completions", openai.DecodeRequest, openai.DecodeResponse,
		func(dst []byte, r *canon.Response) ([]byte, error) { return openai.EncodeResponse(dst, r), nil },
		openai.DecodeError, openai.AppendError},
	upstream.FormatAnthropic: {"Anthropic Messages", anthropic.DecodeRequest, anthropic.DecodeResponse,
		anthropic.EncodeResponse, anthropic.DecodeError, anthropic.AppendError},
	upstream.FormatResponses: {"OpenAI Responses", responses.DecodeRequest, responses.DecodeResponse,
		responses.EncodeResponse, responses.DecodeError, responses.AppendError},
	upstream.FormatGemini: {"Gemini generateContent", gemini.DecodeRequest, gemini.DecodeResponse,
		gemini.EncodeResponse, gemini.DecodeError, gemini.AppendError},
}

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
// provider, a Responses client and a Gemini one, ...): the request
// decoded once into the canonical model, and a stream decoder and encoder
// per format, of which a call uses one pair. Pooled with the call.
type translation struct {
	req     canon.Request
	decoded bool
	resp    canon.Response
	oaDec   openai.StreamDecoder
	anDec   anthropic.StreamDecoder
	rsDec   responses.StreamDecoder
	gmDec   gemini.StreamDecoder
	oaEnc   openai.StreamEncoder
	anEnc   anthropic.StreamEncoder
	rsEnc   responses.StreamEncoder
	gmEnc   gemini.StreamEncoder
	events  []canon.Event
	out     []byte
	costed  []byte
	tail    []byte // the end of a stream, assembled at EOF
	// used has a bit per format whose decoder or encoder the call took:
	// only those need a reset (most calls take none).
	used uint8
}

func (tr *translation) reset() {
	tr.decoded = false
	for f := range codecs {
		if tr.used&(1<<f) != 0 {
			tr.decoder(upstream.Format(f)).Reset()
			tr.encoder(upstream.Format(f)).Reset()
		}
	}
	tr.used = 0
	tr.events, tr.out, tr.costed, tr.tail = tr.events[:0], tr.out[:0], tr.costed[:0], tr.tail[:0]
}

// decoder is the stream decoder of format f.
func (tr *translation) decoder(f upstream.Format) streamDecoder {
	tr.used |= 1 << f
	switch f {
	case upstream.FormatAnthropic:
		return &tr.anDec
	case upstream.FormatResponses:
		return &tr.rsDec
	case upstream.FormatGemini:
		return &tr.gmDec
	}
	return &tr.oaDec
}

// encoder is the stream encoder of format f.
func (tr *translation) encoder(f upstream.Format) streamEncoder {
	tr.used |= 1 << f
	switch f {
	case upstream.FormatAnthropic:
		return &tr.anEnc
	case upstream.FormatResponses:
		return &tr.rsEnc
	case upstream.FormatGemini:
		return &tr.gmEnc
	}
	return &tr.oaEnc
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
	r := &c.tr.req
	if err := c.decodeRequest(body); err != nil {
		return nil, 0, err
	}
	r.Model = t.Model
	var err error
	ep := upstream.ChatCompletions
	switch t.Provider.Format {
	case upstream.FormatAnthropic:
		maxOut := s.billing.defaultMaxOutput
		if t.Entry != nil && t.Entry.MaxOutput > 0 {
			maxOut = int64(t.Entry.MaxOutput)
		}
		if s.autoCache(c, t, body) {
			markCanonRequest(r, s.promptCache.marker)
			c.ctx.Response.Header.Set(headerPromptCache, "auto")
		}
		c.body, err = anthropic.EncodeRequest(c.body[:0], r, anthropic.EncodeOptions{DefaultMaxTokens: maxOut})
		ep = upstream.Messages
	case upstream.FormatResponses:
		c.body, err = responses.EncodeRequest(c.body[:0], r, responses.EncodeOptions{})
		ep = upstream.Responses
	case upstream.FormatGemini:
		c.body, err = gemini.EncodeRequest(c.body[:0], r, gemini.EncodeOptions{})
		ep = upstream.GenerateContent
		if r.Stream {
			ep = upstream.StreamGenerateContent
		}
	default:
		r.IncludeUsage = true // the gateway needs the usage, whatever the client asked
		c.body, err = openai.EncodeRequest(c.body[:0], r, openai.EncodeOptions{})
	}
	if err != nil {
		return nil, 0, translationError(err)
	}
	c.setIgnoredHeader(r.Ignored) // the decoder's, and what the encoder left out
	return c.body, ep, nil
}

// decodeRequest decodes the client's body into c.tr.req, once per call.
func (c *call) decodeRequest(body []byte) error {
	tr := &c.tr
	if tr.decoded {
		return nil
	}
	r := &tr.req
	if len(c.strips) > 0 { // the gateway's own fields are not the provider's
		es := append(c.edits[:0], c.strips...)
		sortEdits(es)
		c.clean = appendEdited(c.clean[:0], body, es...)
		body = c.clean
	}
	if err := codecs[c.surface.format].decodeRequest(body, r); err != nil {
		return translationError(err)
	}
	if c.surface.format == upstream.FormatGemini { // the URL says these
		r.Stream = c.fields.stream
		r.IncludeUsage = c.fields.stream
	}
	tr.decoded = true
	return nil
}

// translating reports whether a call to provider p goes through the
// codecs: p speaks another format than the client, or the gateway
// rewrote the request (web results).
func (c *call) translating(p *upstream.Provider) bool {
	return p.Format != c.surface.format || c.rewritten
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
	tr := &c.tr
	from, to := &codecs[c.target.Provider.Format], &codecs[c.surface.format]
	if status != 200 {
		e := from.decodeError(body, status)
		return to.appendError(tr.out[:0], &e)
	}
	err := from.decodeResponse(body, &tr.resp)
	if err == nil {
		tr.out, err = to.encodeResponse(tr.out[:0], &tr.resp)
	}
	if err != nil {
		e := canon.Error{Status: 502, Message: "the provider's answer could not be translated: " + err.Error()}
		c.status = 502
		return to.appendError(tr.out[:0], &e)
	}
	return tr.out
}

// translateEvent turns one upstream stream event into the client's
// events, keeping the usage the stream reports and adding the call's
// cost to the client's usage event.
func (r *relay) translateEvent(data []byte) ([]byte, error) {
	tr := &r.c.tr
	var err error
	tr.events, err = tr.decoder(r.c.target.Provider.Format).Decode(tr.events[:0], data)
	tr.out = r.encode(tr.out[:0], tr.events)
	return tr.out, err
}

// endTranslation flushes what the upstream decoder holds at the end of
// the stream.
func (r *relay) endTranslation() ([]byte, error) {
	tr := &r.c.tr
	var err error
	tr.events, err = tr.decoder(r.c.target.Provider.Format).End(tr.events[:0])
	tr.out = r.encode(tr.out[:0], tr.events)
	return tr.out, err
}

// encode appends events in the client's format to dst. The usage of a
// MessageDelta becomes the call's, and the cost goes into the client
// event that carries usage.
func (r *relay) encode(dst []byte, events []canon.Event) []byte {
	c := r.c
	enc := c.tr.encoder(c.surface.format)
	for i := range events {
		ev := &events[i]
		if c.cache.store {
			c.cache.build.add(ev)
		}
		if ev.Type == canon.EventMessageDelta {
			u := ev.Usage
			c.usage = usage{prompt: u.Prompt(), completion: u.Output, cached: u.CacheRead,
				cacheWrite: u.CacheWrite, reasoning: u.Reasoning, seen: true}
			c.computeCost()
		}
		start := len(dst)
		dst, _ = enc.Append(dst, ev)
		if c.costed && hasUsageObject(dst[start:], usageKeys[c.surface.format]) {
			dst = r.costInto(dst, start)
		}
	}
	return dst
}

// costInto adds the call's cost to the usage object of each event in
// dst[start:] that has one.
func (r *relay) costInto(dst []byte, start int) []byte {
	tr := &r.c.tr
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
		f := r.c.surface.format
		if data == nil || !hasUsageObject(data, usageKeys[f]) {
			dst = append(dst, ev...)
			continue
		}
		at := cap(ev) - cap(data)
		dst = append(dst, ev[:at]...)
		dst = appendWithCost(dst, data, eventUsagePaths[f], r.c.cost.Total, &r.c.fields.node)
		dst = append(dst, ev[at+len(data):]...)
	}
	return dst
}
