package corpus

import (
	"math/rand/v2"
	"strings"
)

// The vocabulary the generated projects are named from.
var (
	nouns = []string{
		"ledger", "account", "entry", "balance", "route", "target", "request",
		"session", "token", "provider", "batch", "writer", "reader", "event",
		"stream", "cache", "record", "invoice", "order", "payment", "user",
		"profile", "config", "schema", "policy", "window", "bucket", "limit",
		"worker", "queue", "job", "task", "report", "metric", "snapshot",
		"segment", "index", "cursor", "channel", "message", "upload", "export",
	}
	verbs = []string{
		"settle", "reserve", "apply", "load", "store", "parse", "encode",
		"decode", "resolve", "flush", "open", "close", "validate", "compute",
		"merge", "split", "refresh", "expire", "emit", "collect", "render",
		"publish", "fetch", "sync", "retry", "schedule", "cancel", "drain",
		"archive", "restore", "lookup", "register", "normalize", "reconcile",
	}
	adjectives = []string{
		"pending", "active", "stale", "next", "last", "local", "remote",
		"cached", "total", "max", "min", "default", "current", "raw",
	}
	goImports = []string{
		`"bytes"`, `"context"`, `"errors"`, `"fmt"`, `"io"`, `"sort"`,
		`"strconv"`, `"strings"`, `"sync"`, `"time"`, `"encoding/json"`,
		`"net/http"`, `"os"`, `"path/filepath"`, `"sync/atomic"`,
	}
	goTypes  = []string{"string", "int", "int64", "bool", "time.Duration", "[]byte", "float64", "uint32", "time.Time", "[]string", "map[string]int"}
	tsTypes  = []string{"string", "number", "boolean", "Date", "string[]", "Record<string, number>", "unknown", "number | null"}
	words    = strings.Fields("the a an of to in for on with when after before each every this that it is are be was not no only must should may will can cannot returns reads writes keeps holds sends gets sets checks counts caller value values key keys error errors request response result results new old first last next previous empty full once twice again here there")
	failures = []string{
		"got %d, want %d",
		"balance after %s: got %d, want %d",
		"%s: unexpected error: context deadline exceeded",
		"%s twice: entry written %d times, want %d",
		"expected %s to be rejected, got nil error",
		"%s: status %d, want %d",
		"timeout waiting for %s after %d retries (limit %d)",
	}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// between returns an int in [lo, hi].
func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// camel joins words as lowerCamelCase.
func camel(ws ...string) string {
	var b strings.Builder
	for i, w := range ws {
		if i == 0 {
			b.WriteString(w)
		} else {
			b.WriteString(title(w))
		}
	}
	return b.String()
}

// pascal joins words as UpperCamelCase.
func pascal(ws ...string) string { return title(camel(ws...)) }

// sentence returns n words of filler prose, starting with a capital.
func sentence(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch r.IntN(5) {
		case 0:
			b.WriteString(pick(r, nouns))
		case 1:
			b.WriteString(pick(r, verbs))
		default:
			b.WriteString(pick(r, words))
		}
	}
	return title(b.String()) + "."
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}
