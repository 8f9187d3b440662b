package mock_test

import (
	"encoding/json"
	"strings"
	"testing"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// The Responses shapes, every field the mock sends; strict decoding
// refuses any other.
type (
	respObject struct {
		ID                 string          `json:"id"`
		Object             string          `json:"object"`
		CreatedAt          int64           `json:"created_at"`
		Status             string          `json:"status"`
		Error              *respError      `json:"error"`
		IncompleteDetails  json.RawMessage `json:"incomplete_details"`
		Model              string          `json:"model"`
		Output             []respItem      `json:"output"`
		ParallelToolCalls  bool            `json:"parallel_tool_calls"`
		PreviousResponseID *string         `json:"previous_response_id"`
		Usage              *respUsage      `json:"usage"`
	}
	respError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	respItem struct {
		ID               string     `json:"id"`
		Type             string     `json:"type"`
		Status           string     `json:"status"`
		Role             string     `json:"role"`
		Content          []respPart `json:"content"`
		Summary          []respPart `json:"summary"`
		EncryptedContent *string    `json:"encrypted_content"`
		Arguments        *string    `json:"arguments"`
		CallID           string     `json:"call_id"`
		Name             string     `json:"name"`
	}
	respPart struct {
		Type        string            `json:"type"`
		Text        string            `json:"text"`
		Annotations []json.RawMessage `json:"annotations"`
	}
	respUsage struct {
		InputTokens        int `json:"input_tokens"`
		InputTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokens        int `json:"output_tokens"`
		OutputTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
		TotalTokens int `json:"total_tokens"`
	}
	respEvent struct {
		Type           string      `json:"type"`
		SequenceNumber int         `json:"sequence_number"`
		Response       *respObject `json:"response"`
		OutputIndex    *int        `json:"output_index"`
		Item           *respItem   `json:"item"`
		ItemID         string      `json:"item_id"`
		ContentIndex   *int        `json:"content_index"`
		SummaryIndex   *int        `json:"summary_index"`
		Part           *respPart   `json:"part"`
		Delta          *string     `json:"delta"`
		Text           *string     `json:"text"`
		Arguments      *string     `json:"arguments"`
	}
)

func responsesBody(model string, stream bool, extra string) string {
	s := `{"model":"` + model + `","input":"hi"` + extra
	if stream {
		s += `,"stream":true`
	}
	return s + "}"
}

// wantResponse checks the envelope of a Response object with status.
func wantResponse(t *testing.T, r *respObject, model, status string) {
	t.Helper()
	if r == nil || !strings.HasPrefix(r.ID, "resp_") || r.Object != "response" || r.CreatedAt == 0 || r.Status != status ||
		r.Model != model || !r.ParallelToolCalls || r.PreviousResponseID != nil || string(r.IncompleteDetails) != "null" {
		t.Fatalf("response %+v, want status %s model %s", r, status, model)
	}
	if status == "completed" && (r.Error != nil || r.Usage == nil) || status == "in_progress" && (r.Error != nil || r.Usage != nil || len(r.Output) != 0) {
		t.Fatalf("%s response: error %+v usage %+v output %+v", status, r.Error, r.Usage, r.Output)
	}
}

func wantRespUsage(t *testing.T, u *respUsage, input, cached, output, reasoning int) {
	t.Helper()
	if u.InputTokens != input || u.InputTokensDetails.CachedTokens != cached || u.OutputTokens != output ||
		u.OutputTokensDetails.ReasoningTokens != reasoning || u.TotalTokens != input+output {
		t.Fatalf("usage %+v, want input %d cached %d output %d reasoning %d", *u, input, cached, output, reasoning)
	}
}

// wantMessageItem checks a completed assistant message item with text.
func wantMessageItem(t *testing.T, it respItem, text string) {
	t.Helper()
	if !strings.HasPrefix(it.ID, "msg_") || it.Type != "message" || it.Status != "completed" || it.Role != "assistant" ||
		len(it.Content) != 1 || it.Content[0].Type != "output_text" || it.Content[0].Text != text ||
		it.Content[0].Annotations == nil || len(it.Content[0].Annotations) != 0 {
		t.Fatalf("message item %+v, want text %q", it, text)
	}
}

// wantCallItem checks a function_call item; done: completed with
// arguments.
func wantCallItem(t *testing.T, it respItem, done bool) {
	t.Helper()
	status, args := "in_progress", ""
	if done {
		status, args = "completed", toolArgs
	}
	if !strings.HasPrefix(it.ID, "fc_") || it.Type != "function_call" || it.Status != status || it.Arguments == nil ||
		*it.Arguments != args || !strings.HasPrefix(it.CallID, "call_") || it.Name != "get_weather" {
		t.Fatalf("function_call item %+v, want status %s", it, status)
	}
}

func decodeResponse(t *testing.T, r reply) respObject {
	t.Helper()
	if r.status != fasthttp.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var o respObject
	strict(t, r.body, &o)
	return o
}

func TestResponsesAnswer(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := responsesBody("gpt-mock", false, "")
	for _, path := range []string{"/v1/responses", "/responses"} {
		r := do(t, s, fasthttp.MethodPost, path, body)
		o := decodeResponse(t, r)
		wantResponse(t, &o, "gpt-mock", "completed")
		if len(o.Output) != 1 || !strings.Contains(string(r.body), `"error":null`) {
			t.Fatalf("%s: output %+v", path, o.Output)
		}
		wantMessageItem(t, o.Output[0], repeat(8, chunkText))
		wantRespUsage(t, o.Usage, len(body)/4, 0, 16, 0)
	}
}

// responseStream reads a Responses stream and decodes each event,
// checking its name, type and sequence_number.
func responseStream(t *testing.T, s *mock.Server, body string, headers ...string) (namedStream, []respEvent) {
	t.Helper()
	st := doNamed(t, s, "/v1/responses", body, headers...)
	if st.status != fasthttp.StatusOK || st.headers["content-type"] != "text/event-stream" {
		t.Fatalf("status %d content-type %q: %s", st.status, st.headers["content-type"], st.raw)
	}
	if st.err != nil || strings.Contains(string(st.raw), "[DONE]") {
		t.Fatalf("stream: %v\n%s", st.err, st.raw)
	}
	var events []respEvent
	for i, e := range st.events {
		var ev respEvent
		strict(t, []byte(e.data), &ev)
		if ev.Type != e.name || ev.SequenceNumber != i {
			t.Fatalf("event %d %q: type %q sequence_number %d", i, e.name, ev.Type, ev.SequenceNumber)
		}
		events = append(events, ev)
	}
	return st, events
}

// wantRef checks that e is about item prefix* at output index out.
func wantRef(t *testing.T, e respEvent, prefix string, out int) {
	t.Helper()
	if !strings.HasPrefix(e.ItemID, prefix) || e.OutputIndex == nil || *e.OutputIndex != out {
		t.Fatalf("%s: item_id %q output_index %v, want %s* at %d", e.Type, e.ItemID, e.OutputIndex, prefix, out)
	}
}

func TestResponsesStream(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 3})
	body := responsesBody("gpt-mock", true, "")
	st, ev := responseStream(t, s, body)
	wantNames(t, st, seq(one("response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"),
		times(3, "response.output_text.delta"),
		one("response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"))...)

	wantResponse(t, ev[0].Response, "gpt-mock", "in_progress")
	wantResponse(t, ev[1].Response, "gpt-mock", "in_progress")
	id := ev[0].Response.ID
	if it := ev[2].Item; *ev[2].OutputIndex != 0 || !strings.HasPrefix(it.ID, "msg_") || it.Type != "message" || it.Status != "in_progress" ||
		it.Role != "assistant" || it.Content == nil || len(it.Content) != 0 {
		t.Fatalf("output_item.added: %s", st.events[2].data)
	}
	msgID := ev[2].Item.ID
	if e := ev[3]; e.ItemID != msgID || *e.ContentIndex != 0 || e.Part.Type != "output_text" || e.Part.Text != "" || e.Part.Annotations == nil {
		t.Fatalf("content_part.added: %s", st.events[3].data)
	}
	wantRef(t, ev[3], "msg_", 0)
	var text strings.Builder
	for i, e := range ev[4:7] {
		wantRef(t, e, "msg_", 0)
		if e.ItemID != msgID || *e.ContentIndex != 0 || *e.Delta != chunkText(i) {
			t.Fatalf("delta %d: %s", i, st.events[4+i].data)
		}
		text.WriteString(*e.Delta)
	}
	if e := ev[7]; e.ItemID != msgID || *e.Text != text.String() || *e.ContentIndex != 0 {
		t.Fatalf("output_text.done: %s, want text %q", st.events[7].data, text.String())
	}
	if e := ev[8]; e.ItemID != msgID || e.Part.Text != text.String() || e.Part.Type != "output_text" {
		t.Fatalf("content_part.done: %s", st.events[8].data)
	}
	wantMessageItem(t, *ev[9].Item, text.String())
	done := ev[10].Response
	wantResponse(t, done, "gpt-mock", "completed")
	if done.ID != id || len(done.Output) != 1 || done.Output[0].ID != msgID {
		t.Fatalf("response.completed: %s", st.events[10].data)
	}
	wantMessageItem(t, done.Output[0], repeat(3, chunkText))
	wantRespUsage(t, done.Usage, len(body)/4, 0, 6, 0)
}

func TestResponsesFunctionCall(t *testing.T) {
	s := startMock(t, mock.Options{})
	o := decodeResponse(t, do(t, s, fasthttp.MethodPost, "/v1/responses", responsesBody("gpt-mock+tools=2", false, "")))
	if len(o.Output) != 1 {
		t.Fatalf("output %+v", o.Output)
	}
	wantCallItem(t, o.Output[0], true)
	wantRespUsage(t, o.Usage, o.Usage.InputTokens, 0, len(toolArgs)/4, 0)

	for _, n := range []int{1, 4} {
		st, ev := responseStream(t, s, responsesBody("gpt-mock", true, ""), "x-mock", "tools="+itoa(n))
		wantNames(t, st, seq(one("response.created", "response.in_progress", "response.output_item.added"),
			times(n, "response.function_call_arguments.delta"),
			one("response.function_call_arguments.done", "response.output_item.done", "response.completed"))...)
		wantCallItem(t, *ev[2].Item, false)
		var args strings.Builder
		for _, e := range ev[3 : 3+n] {
			wantRef(t, e, "fc_", 0)
			if e.ItemID != ev[2].Item.ID {
				t.Fatalf("delta item_id %q, want %q", e.ItemID, ev[2].Item.ID)
			}
			args.WriteString(*e.Delta)
		}
		if args.String() != toolArgs || *ev[3+n].Arguments != toolArgs {
			t.Fatalf("tools=%d: deltas add up to %q, done says %q", n, args.String(), *ev[3+n].Arguments)
		}
		wantRef(t, ev[3+n], "fc_", 0)
		wantCallItem(t, *ev[4+n].Item, true)
		wantCallItem(t, ev[5+n].Response.Output[0], true)
	}
}

func TestResponsesReasoning(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 2})
	f := func(extra string, summary, encrypted bool) {
		t.Helper()
		body := responsesBody("gpt-mock+reasoning=3", false, extra)
		o := decodeResponse(t, do(t, s, fasthttp.MethodPost, "/v1/responses", body))
		if len(o.Output) != 2 {
			t.Fatalf("%s: output %+v", extra, o.Output)
		}
		rs := o.Output[0]
		if !strings.HasPrefix(rs.ID, "rs_") || rs.Type != "reasoning" || rs.Summary == nil || rs.Content != nil || rs.Status != "" {
			t.Fatalf("%s: reasoning item %+v", extra, rs)
		}
		if encrypted != (rs.EncryptedContent != nil) || encrypted && *rs.EncryptedContent == "" {
			t.Fatalf("%s: encrypted_content %v, want it: %v", extra, rs.EncryptedContent, encrypted)
		}
		if summary != (len(rs.Summary) == 1) || summary && (rs.Summary[0].Type != "summary_text" || rs.Summary[0].Text != repeat(3, thoughtText)) {
			t.Fatalf("%s: summary %+v", extra, rs.Summary)
		}
		wantMessageItem(t, o.Output[1], repeat(2, chunkText))
		wantRespUsage(t, o.Usage, len(body)/4, 0, 6+4, 6)
	}
	f("", false, false)
	f(`,"include":["reasoning.encrypted_content"]`, false, true)
	f(`,"reasoning":{"effort":"high","summary":"auto"},"include":["file_search_call.results","reasoning.encrypted_content"]`, true, true)
	f(`,"reasoning":{"summary":"detailed"}`, true, false)

	// Streamed: the reasoning item, with its summary, then the message.
	body := responsesBody("gpt-mock+reasoning=2", true, `,"reasoning":{"summary":"auto"},"include":["reasoning.encrypted_content"]`)
	st, ev := responseStream(t, s, body)
	wantNames(t, st, seq(one("response.created", "response.in_progress", "response.output_item.added", "response.reasoning_summary_part.added"),
		times(2, "response.reasoning_summary_text.delta"),
		one("response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done"),
		one("response.output_item.added", "response.content_part.added"), times(2, "response.output_text.delta"),
		one("response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"))...)
	if it := ev[2].Item; it.Type != "reasoning" || len(it.Summary) != 0 || it.EncryptedContent != nil {
		t.Fatalf("reasoning added: %s", st.events[2].data)
	}
	for i, e := range ev[3:8] {
		wantRef(t, e, "rs_", 0)
		if *e.SummaryIndex != 0 {
			t.Fatalf("event %d summary_index %d", 3+i, *e.SummaryIndex)
		}
	}
	if p := ev[3].Part; p.Type != "summary_text" || p.Text != "" || *ev[4].Delta != thoughtText(0) || *ev[5].Delta != thoughtText(1) ||
		*ev[6].Text != repeat(2, thoughtText) || ev[7].Part.Text != repeat(2, thoughtText) {
		t.Fatalf("summary events:\n%s", st.raw)
	}
	done := ev[8].Item
	if *ev[8].OutputIndex != 0 || done.EncryptedContent == nil || len(done.Summary) != 1 {
		t.Fatalf("reasoning done: %s", st.events[8].data)
	}
	if *ev[9].OutputIndex != 1 || ev[9].Item.Type != "message" {
		t.Fatalf("message added: %s", st.events[9].data)
	}
	for _, e := range ev[10:15] {
		wantRef(t, e, "msg_", 1)
	}
	final := ev[len(ev)-1].Response
	if len(final.Output) != 2 || *final.Output[0].EncryptedContent != *done.EncryptedContent {
		t.Fatalf("completed output %+v", final.Output)
	}
	wantRespUsage(t, final.Usage, len(body)/4, 0, 4+4, 4)

	// Without a summary, the reasoning item has no events of its own.
	st, _ = responseStream(t, s, responsesBody("gpt-mock+reasoning=2+tools=1", true, ""))
	wantNames(t, st, one("response.created", "response.in_progress", "response.output_item.added", "response.output_item.done",
		"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
		"response.output_item.done", "response.completed")...)
}

func TestResponsesCachedUsage(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := responsesBody("gpt-mock+cached=4", false, "")
	o := decodeResponse(t, do(t, s, fasthttp.MethodPost, "/v1/responses", body))
	wantRespUsage(t, o.Usage, len(body)/4, 4, 16, 0)
	body = responsesBody("gpt-mock", true, "")
	_, ev := responseStream(t, s, body, "x-mock", "cached=100000")
	wantRespUsage(t, ev[len(ev)-1].Response.Usage, len(body)/4, len(body)/4, 16, 0)
}

func TestResponsesErrors(t *testing.T) {
	s := startMock(t, mock.Options{})
	e := wantError(t, do(t, s, fasthttp.MethodPost, "/v1/responses", responsesBody("gpt-mock", false, ""), "Authorization", ""), 401)
	if *e.Error.Code != "invalid_api_key" {
		t.Fatalf("401: %+v", e.Error)
	}
	for status, typ := range map[int]string{400: "invalid_request_error", 429: "requests", 500: "server_error", 503: "server_error"} {
		e := wantError(t, do(t, s, fasthttp.MethodPost, "/v1/responses", responsesBody("gpt-mock+status="+itoa(status), true, "")), status)
		if e.Error.Type != typ {
			t.Fatalf("status %d: type %q, want %q", status, e.Error.Type, typ)
		}
	}
	wantError(t, do(t, s, fasthttp.MethodPost, "/v1/responses", `{"input":"hi"}`), 400)
	wantError(t, do(t, s, fasthttp.MethodPost, "/v1/responses", `{"model":"gpt-mock","include":"reasoning"}`), 400)
	wantError(t, do(t, s, fasthttp.MethodGet, "/v1/responses", ""), 405)
}

func TestResponsesStreamError(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(model string, want ...string) {
		t.Helper()
		st, ev := responseStream(t, s, responsesBody(model, true, ""))
		wantNames(t, st, want...)
		last := ev[len(ev)-1]
		wantResponse(t, last.Response, model, "failed")
		if r := last.Response; r.Error == nil || r.Error.Code != "server_error" || r.Error.Message == "" || r.Usage != nil || len(r.Output) != 0 ||
			r.ID != ev[0].Response.ID {
			t.Fatalf("%s: response.failed %s", model, st.events[len(ev)-1].data)
		}
	}
	f("gpt-mock+streamerror=2", seq(one("response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"),
		times(2, "response.output_text.delta"), one("response.failed"))...)
	f("gpt-mock+streamerror=0", "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.failed")
	f("gpt-mock+tools=3+streamerror=1", "response.created", "response.in_progress", "response.output_item.added",
		"response.function_call_arguments.delta", "response.failed")
}
