package proxy

import (
	"fmt"
	"strconv"

	"github.com/bytedance/sonic"

	"switchboard/configs"
	"switchboard/proxy/compress"
)

// Context compression (package compress): off by default, on for a
// route or a key by config, and per request by the body's "compression"
// field, OpenRouter's "transforms": ["middle-out"], or the
// x-switchboard-compression header, each overriding the one before. The
// request is rewritten on the canonical model, so it reaches a provider
// of any format; the answer says what was saved, and the ledger keeps it.

const (
	headerTokensBefore = "x-switchboard-tokens-before"
	headerTokensAfter  = "x-switchboard-tokens-after"
)

// compressionOptions converts the config's compression settings of
// routes and keys, by their address in the config.
func compressionOptions(cfg *configs.Config) (map[*configs.Compression]compress.Options, error) {
	m := map[*configs.Compression]compress.Options{}
	add := func(at string, c *configs.Compression) error {
		if c == nil {
			return nil
		}
		stages := c.Stages
		if stages == "" {
			stages = "on"
		}
		st, err := compress.ParseStages(stages)
		if err != nil {
			return fmt.Errorf("%s.compression: %w", at, err)
		}
		o := compress.Options{Stages: st, Budget: c.Budget, KeepLast: c.KeepLast, HeadLines: c.HeadLines,
			TailLines: c.TailLines, MinDedupe: c.MinDedupeBytes}
		if err := o.EnsureDefaults().Validate(); err != nil {
			return fmt.Errorf("%s.compression: %w", at, err)
		}
		m[c] = o
		return nil
	}
	for i := range cfg.Routes {
		if err := add("routes["+strconv.Itoa(i)+"]", cfg.Routes[i].Compression); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Auth.Keys {
		if err := add("auth.keys["+strconv.Itoa(i)+"]", cfg.Auth.Keys[i].Compression); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// readCompression works out the call's compression options from its
// route, key, body and header, adding the removal of the body's fields
// to c.strips. It runs before anything decodes the body.
func (s *Server) readCompression(c *call, body []byte) error {
	o, set := compress.Options{}, false
	if p := c.plan.Route.Policy.Compression; p != nil {
		o, set = s.compressions[p], true
	}
	if p := c.key.compression; p != nil {
		o, set = s.compressions[p], true
	}
	if st := c.key.stages; st != 0 {
		o.Stages, set = st, true
	}
	value, strip, ok, err := c.extension(body, extCompression)
	if err != nil {
		return err
	}
	if ok {
		c.strips = append(c.strips, strip)
		if o, err = compress.ParseBody(body[value.start:value.end], o); err != nil {
			return fmt.Errorf("%w: %v", errBadRequest, err)
		}
		set = true
	}
	if value, strip, ok, err = c.extension(body, extTransforms); err != nil {
		return err
	}
	if ok {
		c.strips = append(c.strips, strip)
		var ts []string
		if err := sonic.Unmarshal(body[value.start:value.end], &ts); err != nil {
			return fmt.Errorf("%w: transforms must be a list of names", errBadRequest)
		}
		o, set = compress.WithTransforms(o, ts), true
	}
	if h := c.ctx.Request.Header.Peek(compress.HeaderName); len(h) > 0 {
		if o, err = compress.ParseHeader(string(h), o); err != nil {
			return fmt.Errorf("%w: %v", errBadRequest, err)
		}
		set = true
	}
	if set && o.Stages != 0 && c.surface.chat {
		c.compression.opts = *o.EnsureDefaults()
	}
	return nil
}

// applyCompression compresses the call's request when readCompression
// turned it on, within the first target's context window, and says so
// in the answer's headers.
func (s *Server) applyCompression(c *call, body []byte) error {
	if c.compression.opts.Stages == 0 {
		return nil
	}
	if err := c.decodeRequest(body); err != nil {
		return err
	}
	window := 0
	if e := c.plan.Targets[0].Entry; e != nil {
		window = e.Context
	}
	rep := compress.Compress(&c.translation().req, c.compression.opts, window)
	h := &c.ctx.Response.Header
	if rep.Applied == 0 {
		h.Set(compress.HeaderName, "none")
	} else {
		h.Set(compress.HeaderName, rep.Applied.String())
		c.translation().rewritten = true
	}
	c.setIntHeader(headerTokensBefore, int64(rep.Before))
	c.setIntHeader(headerTokensAfter, int64(rep.After))
	c.compression.saved = int64(rep.Saved())
	return nil
}
