package mock

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// faults are the behaviours a request asks the mock to inject. The zero
// value asks for none except where a field says otherwise; use noFaults.
type faults struct {
	status     int           // answer this status with an error body; 0: no
	retryAfter string        // retry-after header sent with status
	delay      time.Duration // sleep before the response headers
	ttft       time.Duration // streaming: sleep after headers, before the first chunk
	chunks     int           // content chunks; -1: the server's default
	gap        time.Duration // delay between chunks; -1: the server's default
	reset      int           // reset the connection after this many chunks; -1: no
	tools      int           // answer with a tool call split over this many deltas; 0: no
	encoding   string        // "gzip" or "zstd" body compression; "": none
	cached     int           // prompt tokens reported as read from the cache
	thinking   int           // thinking or reasoning pieces before the answer; 0: none
	streamErr  int           // streaming: in-band error after this many deltas; -1: no
	hold       time.Duration // go silent this long, watching the connection; 0: no
	holdAfter  int           // hold after this many events (a whole answer: after its headers); 0: before the headers

	// Random faults: one draw per request picks at most one of them.
	failP  float64       // probability of answering 500
	resetP float64       // probability of resetting the connection unanswered
	stallP float64       // probability of sleeping stall before the headers
	stall  time.Duration // how long a stall lasts
}

var errUnknownDirective = errors.New("unknown directive, want status=, retry_after=, delay=, ttft=, chunks=, gap=, reset=, tools=, cached=, thinking=, reasoning=, streamerror=, hold=, holdafter=, fail=, resetp=, stallp=, stall=, gzip or zstd")

func noFaults() faults {
	return faults{chunks: -1, gap: -1, reset: -1, streamErr: -1, holdAfter: 1, stall: defaultStall}
}

// defaultStall is how long a stallp= stall lasts without stall=: longer
// than any sensible first-byte timeout, so that the client gives up first.
const defaultStall = 30 * time.Second

// Bounds on directive values, so that a typo cannot make the mock hang or
// allocate without limit.
const (
	maxChunks = 100000
	maxTools  = 10000
	maxSleep  = 10 * time.Minute
)

// parse applies a list of directives separated by sep to f; the package
// documentation lists them. Empty items are skipped; anything else that is
// not a directive is an error naming the item.
func (f *faults) parse(list string, sep byte) error {
	for list != "" {
		item := list
		if i := strings.IndexByte(list, sep); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			list = ""
		}
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := f.apply(item); err != nil {
			return fmt.Errorf("mock directive %q: %w", item, err)
		}
	}
	return nil
}

func (f *faults) apply(item string) error {
	name, value, hasValue := strings.Cut(item, "=")
	if !hasValue {
		switch name {
		case "gzip", "zstd":
			f.encoding = name
			return nil
		}
		return errUnknownDirective
	}
	var err error
	switch name {
	case "status":
		f.status, err = parseInt(value, 400, 599)
	case "retry_after":
		_, err = parseInt(value, 0, 1<<31-1)
		f.retryAfter = value
	case "delay":
		f.delay, err = parseDuration(value)
	case "ttft":
		f.ttft, err = parseDuration(value)
	case "chunks":
		f.chunks, err = parseInt(value, 0, maxChunks)
	case "gap":
		f.gap, err = parseDuration(value)
	case "reset":
		f.reset, err = parseInt(value, 0, maxChunks)
	case "tools":
		f.tools, err = parseInt(value, 1, maxTools)
	case "cached":
		f.cached, err = parseInt(value, 0, 1<<30)
	case "thinking", "reasoning":
		f.thinking, err = parseInt(value, 0, maxChunks)
	case "streamerror":
		f.streamErr, err = parseInt(value, 0, maxChunks)
	case "hold":
		f.hold, err = parseDuration(value)
	case "holdafter":
		f.holdAfter, err = parseInt(value, 0, maxChunks)
	case "fail":
		f.failP, err = parseProbability(value)
	case "resetp":
		f.resetP, err = parseProbability(value)
	case "stallp":
		f.stallP, err = parseProbability(value)
	case "stall":
		f.stall, err = parseDuration(value)
	default:
		return errUnknownDirective
	}
	return err
}

// check reports faults that only the whole list can tell: random faults
// whose probabilities add up to more than 1. It runs once every list of
// the request has been parsed, since a later directive may lower an
// earlier one.
func (f *faults) check() error {
	if sum := f.failP + f.resetP + f.stallP; sum > 1+1e-9 {
		return fmt.Errorf("mock directives fail=%g, resetp=%g and stallp=%g: want probabilities adding up to at most 1, got %g", f.failP, f.resetP, f.stallP, sum)
	}
	return nil
}

// outcome is the random fault a request drew.
type outcome int

const (
	outcomeNone outcome = iota
	outcomeFail
	outcomeReset
	outcomeStall
)

// random reports whether f asks for a random fault, so that requests
// without one leave the server's random sequence alone.
func (f *faults) random() bool { return f.failP > 0 || f.resetP > 0 || f.stallP > 0 }

// pick maps a uniform draw u in [0, 1) to the fault it selects: the
// probabilities are consecutive slices of [0, 1), so the faults exclude
// each other and each happens at exactly its own rate.
func (f *faults) pick(u float64) outcome {
	switch {
	case u < f.failP:
		return outcomeFail
	case u < f.failP+f.resetP:
		return outcomeReset
	case u < f.failP+f.resetP+f.stallP:
		return outcomeStall
	}
	return outcomeNone
}

func parseProbability(s string) (float64, error) {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil || !(p >= 0 && p <= 1) {
		return 0, fmt.Errorf("want a probability in [0, 1] such as 0.2, got %q", s)
	}
	return p, nil
}

func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("want an integer in [%d, %d], got %q", lo, hi, s)
	}
	return n, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxSleep {
		return 0, fmt.Errorf("want a duration in [0, %s] such as 50ms, got %q", maxSleep, s)
	}
	return d, nil
}

// splitModel splits "mock-model+status=500+delay=1s" into the model name and
// its directive list.
func splitModel(model string) (name, directives string) {
	name, directives, _ = strings.Cut(model, "+")
	return name, directives
}
