package proxy

import (
	"errors"
	"fmt"

	"switchboard/router"
	"switchboard/upstream"
	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// translation is a call's state when its client and its target speak
// different wire formats (an Anthropic client and an OpenAI-format
// provider, or the reverse): the request decoded once into the canonical
// model, and the stream decoder and encoder of the pair. Pooled with the
// call.
type translation struct {
	req     canon.Request
	decoded bool
	resp    canon.Response
	oaDec   openai.StreamDecoder
	anDec   anthropic.StreamDecoder
	oaEnc   openai.StreamEncoder
	anEnc   anthropic.StreamEncoder
	events  []canon.Event
	out     []byte
	costed  []byte
	tail    []byte // the end of a stream, assembled at EOF
}

func (tr *translation) reset() {
	tr.decoded = false
	tr.oaDec.Reset()
	tr.anDec.Reset()
	tr.oaEnc.Reset()
	tr.anEnc.Reset()
	tr.events, tr.out, tr.costed, tr.tail = tr.events[:0], tr.out[:0], tr.costed[:0], tr.tail[:0]
}

// translatable reports whether a call on surface sf can go to a provider
// of format f: its own format, or the other of the two chat formats.
func translatable(sf *surface, f upstream.Format) bool {
	return f == sf.format || sf == surfaceChat || sf == surfaceMessages
}

// translatedBody returns the request for target t in t's format, and the
// endpoint it goes to. The client's body is decoded once per call.
func (s *Server) translatedBody(c *call, body []byte, t *router.Target) ([]byte, upstream.Endpoint, error) {
	tr := &c.tr
	r := &tr.req
	if !tr.decoded {
		var err error
		if c.surface.format == upstream.FormatAnthropic {
			err = anthropic.DecodeRequest(body, r)
		} else {
			err = openai.DecodeRequest(body, r)
		}
		if err != nil {
			return nil, 0, translationError(err)
		}
		tr.decoded = true
	}
	r.Model = t.Model
	var err error
	if t.Provider.Format == upstream.FormatAnthropic {
		maxOut := s.billing.defaultMaxOutput
		if t.Entry != nil && t.Entry.MaxOutput > 0 {
			maxOut = int64(t.Entry.MaxOutput)
		}
		c.body, err = anthropic.EncodeRequest(c.body[:0], r, anthropic.EncodeOptions{DefaultMaxTokens: maxOut})
		if err != nil {
			return nil, 0, translationError(err)
		}
		return c.body, upstream.Messages, nil
	}
	r.IncludeUsage = true // the gateway needs the usage, whatever the client asked
	c.body, err = openai.EncodeRequest(c.body[:0], r, openai.EncodeOptions{})
	if err != nil {
		return nil, 0, translationError(err)
	}
	return c.body, upstream.ChatCompletions, nil
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
	from := c.target.Provider.Format
	if status != 200 {
		var e canon.Error
		if from == upstream.FormatAnthropic {
			e = anthropic.DecodeError(body, status)
		} else {
			e = openai.DecodeError(body, status)
		}
		if c.surface.format == upstream.FormatAnthropic {
			return anthropic.AppendError(tr.out[:0], &e)
		}
		return openai.AppendError(tr.out[:0], &e)
	}
	var err error
	if from == upstream.FormatAnthropic {
		err = anthropic.DecodeResponse(body, &tr.resp)
	} else {
		err = openai.DecodeResponse(body, &tr.resp)
	}
	if err == nil {
		if c.surface.format == upstream.FormatAnthropic {
			tr.out, err = anthropic.EncodeResponse(tr.out[:0], &tr.resp)
		} else {
			tr.out = openai.EncodeResponse(tr.out[:0], &tr.resp)
		}
	}
	if err != nil {
		e := canon.Error{Status: 502, Message: "the provider's answer could not be translated: " + err.Error()}
		c.status = 502
		if c.surface.format == upstream.FormatAnthropic {
			return anthropic.AppendError(tr.out[:0], &e)
		}
		return openai.AppendError(tr.out[:0], &e)
	}
	return tr.out
}

// translateEvent turns one upstream stream event into the client's
// events, keeping the usage the stream reports and adding the call's
// cost to the client's usage event.
func (r *relay) translateEvent(data []byte) ([]byte, error) {
	c := r.c
	tr := &c.tr
	var err error
	if c.target.Provider.Format == upstream.FormatAnthropic {
		tr.events, err = tr.anDec.Decode(tr.events[:0], data)
	} else {
		tr.events, err = tr.oaDec.Decode(tr.events[:0], data)
	}
	out := r.encode(tr.out[:0], tr.events)
	tr.out = out
	return out, err
}

// endTranslation flushes what the upstream decoder holds at the end of
// the stream.
func (r *relay) endTranslation() ([]byte, error) {
	tr := &r.c.tr
	var err error
	if r.c.target.Provider.Format == upstream.FormatAnthropic {
		tr.events, err = tr.anDec.End(tr.events[:0])
	} else {
		tr.events, err = tr.oaDec.End(tr.events[:0])
	}
	tr.out = r.encode(tr.out[:0], tr.events)
	return tr.out, err
}

// encode appends events in the client's format to dst. The usage of a
// MessageDelta becomes the call's, and the cost goes into the client
// event that carries usage.
func (r *relay) encode(dst []byte, events []canon.Event) []byte {
	c := r.c
	tr := &c.tr
	for i := range events {
		ev := &events[i]
		if ev.Type == canon.EventMessageDelta {
			u := ev.Usage
			c.usage = usage{prompt: u.Prompt(), completion: u.Output, cached: u.CacheRead,
				cacheWrite: u.CacheWrite, reasoning: u.Reasoning, seen: true}
			c.computeCost()
		}
		start := len(dst)
		if c.surface.format == upstream.FormatAnthropic {
			dst, _ = tr.anEnc.Append(dst, ev)
		} else {
			dst, _ = tr.oaEnc.Append(dst, ev)
		}
		if c.costed && hasUsageObject(dst[start:]) {
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
		if data == nil || !hasUsageObject(data) {
			dst = append(dst, ev...)
			continue
		}
		at := cap(ev) - cap(data)
		dst = append(dst, ev[:at]...)
		dst = appendWithCost(dst, data, r.c.cost.Total, &r.c.fields.node)
		dst = append(dst, ev[at+len(data):]...)
	}
	return dst
}
