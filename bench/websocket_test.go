package main

import (
	"context"
	"strings"
	"testing"
)

// The WebSocket scenario's machinery against the mock itself, which
// serves the loop's three ways: every loop of every way completes, and
// the WebSocket ways send a fraction of what HTTP sends.
func TestWebSocketScenarioRunsEveryWay(t *testing.T) {
	targets, o, _ := testTargetsMock(t)
	o.wsLoops = 2
	s := runWebSocket(context.Background(), findTarget(targets, targetDirect), o)
	f := s.WebSocket
	if f == nil || len(f.Modes) != 3 {
		t.Fatalf("figures %+v: want three ways", f)
	}
	for _, m := range f.Modes {
		if m.Loops != 2 || m.Errors != 0 || m.Turn.P50 <= 0 || m.Loop.P50 < m.Turn.P50*wsLoopTurns/2 {
			t.Errorf("%s: %+v", m.Mode, m)
		}
		if m.Mode != "http" && m.BytesPerLoop*4 > f.Modes[0].BytesPerLoop {
			t.Errorf("%s sent %d bytes per loop, http %d: want a fraction", m.Mode, m.BytesPerLoop, f.Modes[0].BytesPerLoop)
		}
	}
	var b strings.Builder
	writeWebSocket(&b, f)
	if !strings.Contains(b.String(), "| websocket-passthrough | 2 | 0 |") {
		t.Errorf("table:\n%s", b.String())
	}
}
