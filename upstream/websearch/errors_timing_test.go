package websearch

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTimeoutIsAnErrorOfItsOwn(t *testing.T) {
	for _, c := range engineCases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.answerFile(t, 200, searchFiles[c.name])
			f.setDelay(600 * time.Millisecond)

			e := newTestEngine(t, c.name, c.key, f.URL, 100*time.Millisecond)
			start := time.Now()
			_, err := e.Search(context.Background(), "go", 5)
			took := time.Since(start)
			se := checkError(t, err, c.name, c.key, "timed out after 100ms")
			if !se.Timeout() || !errors.Is(err, ErrTimeout) {
				t.Errorf("Timeout() = %v, errors.Is(ErrTimeout) = %v, want true", se.Timeout(), errors.Is(err, ErrTimeout))
			}
			if took > 450*time.Millisecond {
				t.Errorf("search took %v with a 100ms timeout", took)
			}

			// A context deadline shorter than the engine's timeout wins.
			e = newTestEngine(t, c.name, c.key, f.URL, 5*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start = time.Now()
			_, err = e.Search(ctx, "go", 5)
			if !errors.Is(err, ErrTimeout) || time.Since(start) > 450*time.Millisecond {
				t.Errorf("with a 100ms context: err %v after %v, want a timeout", err, time.Since(start))
			}
		})
	}
}
