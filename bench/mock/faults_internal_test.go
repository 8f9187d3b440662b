package mock

import (
	"encoding/json"
	"strings"
	"switchboard/upstream/canon"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	f := func(list string, sep byte, want faults) {
		t.Helper()
		got := noFaults()
		if err := got.parse(list, sep); err != nil {
			t.Fatalf("parse(%q): %v", list, err)
		}
		if got != want {
			t.Fatalf("parse(%q) = %+v, want %+v", list, got, want)
		}
	}
	f("", ',', noFaults())
	want := noFaults()
	want.status, want.retryAfter, want.delay = 503, "2", 50*time.Millisecond
	f("status=503, retry_after=2,,delay=50ms", ',', want)
	want = noFaults()
	want.ttft, want.chunks, want.gap, want.reset, want.tools, want.encoding = time.Second, 3, time.Millisecond, 0, 4, "zstd"
	f("ttft=1s+chunks=3+gap=1ms+reset=0+tools=4+gzip+zstd", '+', want)
	want = noFaults()
	want.failP, want.resetP, want.stallP, want.stall = 0.2, 0.05, 1, 5*time.Second
	f("fail=0.2+resetp=0.05+stallp=1+stall=5s", '+', want)
	want = noFaults()
	want.thinking, want.streamErr = 2, 0
	f("thinking=5+streamerror=0+reasoning=2", '+', want)
	want = noFaults()
	want.hold, want.holdAfter = 30*time.Second, 0
	f("hold=30s+holdafter=0", '+', want)
	if noFaults().holdAfter != 1 || noFaults().hold != 0 {
		t.Fatalf("noFaults holds: %+v", noFaults())
	}
	if noFaults().streamErr != -1 || noFaults().thinking != 0 {
		t.Fatalf("noFaults asks for thinking or a stream error: %+v", noFaults())
	}
	if d := noFaults().stall; d != 30*time.Second {
		t.Fatalf("default stall %s, want 30s", d)
	}
}

func TestRandomFaultsCheckAndPick(t *testing.T) {
	ok := func(list string) faults {
		t.Helper()
		f := noFaults()
		if err := f.parse(list, '+'); err != nil {
			t.Fatalf("parse(%q): %v", list, err)
		}
		return f
	}
	for _, list := range []string{"fail=0.6+stallp=0.5", "fail=1+resetp=0.01", "resetp=0.4+stallp=0.4+fail=0.3"} {
		f := ok(list)
		if err := f.check(); err == nil || !strings.Contains(err.Error(), "at most 1") {
			t.Errorf("check(%q) = %v, want the sum refused", list, err)
		}
	}
	// Sums that are 1 in decimal but not quite in binary pass.
	for _, list := range []string{"fail=0.7+resetp=0.2+stallp=0.1", "fail=1", "", "stall=1s"} {
		f := ok(list)
		if err := f.check(); err != nil {
			t.Errorf("check(%q): %v", list, err)
		}
	}
	if f := ok("stall=1s+gzip"); f.random() {
		t.Error("stall= alone asks for a random fault")
	}

	f := ok("fail=0.2+resetp=0.05+stallp=0.05")
	if !f.random() {
		t.Fatal("random() false with three probabilities")
	}
	for _, c := range []struct {
		u    float64
		want outcome
	}{{0, outcomeFail}, {0.199, outcomeFail}, {0.2, outcomeReset}, {0.249, outcomeReset}, {0.25, outcomeStall}, {0.299, outcomeStall}, {0.3, outcomeNone}, {0.999, outcomeNone}} {
		if got := f.pick(c.u); got != c.want {
			t.Errorf("pick(%g) = %d, want %d", c.u, got, c.want)
		}
	}
	if f := ok("stallp=1"); f.pick(0.9999) != outcomeStall {
		t.Errorf("stallp=1 picked %d", f.pick(0.9999))
	}
}

func TestSplitModel(t *testing.T) {
	f := func(model, name, directives string) {
		t.Helper()
		if n, d := splitModel(model); n != name || d != directives {
			t.Fatalf("splitModel(%q) = %q, %q; want %q, %q", model, n, d, name, directives)
		}
	}
	f("mock-model", "mock-model", "")
	f("mock-model+status=500+delay=1s", "mock-model", "status=500+delay=1s")
	f("+gzip", "", "gzip")
}

func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"status=500,delay=1ms", "ttft=1s+chunks=3", "reset=0", "tools=2,gzip", "x=", "=", ",,", "fail=0.2+resetp=0.05+stallp=0.05+stall=5s", "fail=NaN", "stallp=1e-3",
		"thinking=3+streamerror=0", "reasoning=-1", "streamerror=100001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		for _, sep := range []byte{',', '+'} {
			ff := noFaults()
			if err := ff.parse(list, sep); err != nil {
				if !strings.Contains(err.Error(), "mock directive") {
					t.Fatalf("error %q does not name the directive", err)
				}
				continue
			}
			if ff.status != 0 && (ff.status < 400 || ff.status > 599) || ff.delay < 0 || ff.delay > maxSleep ||
				ff.ttft < 0 || ff.gap < -1 || ff.chunks < -1 || ff.chunks > maxChunks || ff.reset < -1 || ff.tools < 0 || ff.tools > maxTools ||
				!(ff.failP >= 0 && ff.failP <= 1) || !(ff.resetP >= 0 && ff.resetP <= 1) || !(ff.stallP >= 0 && ff.stallP <= 1) || ff.stall < 0 || ff.stall > maxSleep ||
				ff.thinking < 0 || ff.thinking > maxChunks || ff.streamErr < -1 || ff.streamErr > maxChunks {
				t.Fatalf("parse(%q) accepted out-of-bounds %+v", list, ff)
			}
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x1f\n\r\t", "é€😀", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := canon.AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("canon.AppendString(%q) = %s: invalid JSON: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		// ToValidUTF8 replaces a run of invalid bytes with one U+FFFD; the
		// encoder replaces each byte, like encoding/json.
		wantJSON, _ := json.Marshal(s)
		var viaStd string
		_ = json.Unmarshal(wantJSON, &viaStd)
		if got != viaStd && got != want {
			t.Fatalf("canon.AppendString(%q) decodes to %q, want %q", s, got, viaStd)
		}
	})
}

func TestRoute(t *testing.T) {
	f := func(path string, ep endpoint, method, model string) {
		t.Helper()
		gotEp, gotMethod, gotModel := route([]byte(path))
		if gotEp != ep || gotMethod != method || string(gotModel) != model {
			t.Fatalf("route(%q) = %q %q %q, want %q %q %q", path, gotEp.surface(), gotMethod, gotModel, ep.surface(), method, model)
		}
	}
	f("/v1/chat/completions", endpointChat, "POST", "")
	f("/models", endpointModels, "GET", "")
	f("/v1/messages", endpointMessages, "POST", "")
	f("/messages", endpointMessages, "POST", "")
	f("/v1/messages/count_tokens", endpointCountTokens, "POST", "")
	f("/messages/count_tokens", endpointCountTokens, "POST", "")
	f("/v1/responses", endpointResponses, "POST", "")
	f("/responses", endpointResponses, "POST", "")
	f("/v1beta/models/gemini-2.5-pro:generateContent", endpointGenerate, "POST", "gemini-2.5-pro")
	f("/v1/models/gemini-2.5-pro:streamGenerateContent", endpointStreamGenerate, "POST", "gemini-2.5-pro")
	f("/v1beta/models/m+delay=1s+chunks=2:countTokens", endpointGeminiCountTokens, "POST", "m+delay=1s+chunks=2")
	f("/v1beta/models/a:b:generateContent", endpointGenerate, "POST", "a:b")
	f("/v1beta/models/:generateContent", endpointGenerate, "POST", "")
	f("/v1beta/models/m:embedContent", endpointNone, "", "")
	f("/v1beta/models/m", endpointNone, "", "")
	f("/v1/models/m", endpointNone, "", "")
	f("/v1beta/models", endpointNone, "", "")
	f("/v2/messages", endpointNone, "", "")
	f("/v1/messages/batches", endpointNone, "", "")
	if !isGeminiPath([]byte("/v1beta/models/m:embedContent")) || isGeminiPath([]byte("/v1/models")) {
		t.Fatal("isGeminiPath")
	}
}

func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/v1/messages", "/v1beta/models/m+tools=2:streamGenerateContent", "/v1/models/:countTokens", "/v1beta/models/::", "/v1/v1/responses", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		ep, method, model := route([]byte(path))
		if ep < endpointNone || ep >= numEndpoints || (ep == endpointNone) != (method == "") {
			t.Fatalf("route(%q) = %d %q", path, ep, method)
		}
		if ep.format() == formatGemini {
			if !isGeminiPath([]byte(path)) || !strings.Contains(path, string(model)+":") {
				t.Fatalf("route(%q): model %q is not the segment before the method", path, model)
			}
		} else if model != nil {
			t.Fatalf("route(%q) = %q: a model outside Gemini", path, model)
		}
	})
}
