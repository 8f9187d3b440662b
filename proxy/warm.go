package proxy

import (
	"sync"

	"switchboard/upstream/canon"
)

// warmCodecs sends a small conversation, answer and stream through every
// wire format's codecs once, so that sonic compiles its decoders for the
// formats' types before the first call instead of during it: the first
// translated call after start took 108 ms of gateway overhead, the
// second 0.2 ms. Once per process; errors are of no interest (a sample a
// format refuses still compiles its decoder).
var warmCodecs = sync.OnceFunc(func() {
	req := canon.Request{
		Model:     "warm",
		System:    []canon.Block{{Kind: canon.BlockText, Text: "be brief"}},
		MaxTokens: 16,
		Tools:     []canon.Tool{{Name: "read", Description: "read a file", Schema: `{"type":"object","properties":{"path":{"type":"string"}}}`}},
		Messages: []canon.Message{
			{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockText, Text: "hi"}}},
			{Role: canon.RoleAssistant, Content: []canon.Block{{Kind: canon.BlockToolUse, ID: "call_1", Name: "read", Input: `{"path":"a"}`}}},
			{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockToolResult, ID: "call_1", Content: []canon.Block{{Kind: canon.BlockText, Text: "ok"}}}}},
		},
	}
	resp := canon.Response{ID: "warm", Model: "warm", StopReason: canon.StopEndTurn,
		Content: []canon.Block{{Kind: canon.BlockText, Text: "hello"}, {Kind: canon.BlockToolUse, ID: "call_2", Name: "read", Input: `{}`}},
		Usage:   canon.Usage{Input: 3, Output: 2}}
	events := canon.AppendEvents(nil, &resp)
	var tr translation
	for i := range formats {
		f := &formats[i]
		var buf []byte
		var err error
		if buf, err = f.encodeRequest(buf[:0], &req, 16); err == nil {
			var back canon.Request
			_ = f.decodeRequest(buf, &back)
		}
		if buf, err = f.encodeResponse(buf[:0], &resp); err == nil {
			var back canon.Response
			_ = f.decodeResponse(buf, &back)
		}
		enc, dec := f.encoder(&tr), f.decoder(&tr)
		var got []canon.Event
		for j := range events {
			if buf, err = enc.Append(buf[:0], &events[j]); err != nil {
				break
			}
			for rest := buf; len(rest) > 0; {
				k := nextEvent(rest)
				if k == 0 {
					k = len(rest)
				}
				if data := eventData(rest[:k]); data != nil {
					got, _ = dec.Decode(got[:0], data)
				}
				rest = rest[k:]
			}
		}
		_ = f.decodeError(f.appendError(buf[:0], &canon.Error{Status: 400, Message: "warm"}), 400)
	}
})
