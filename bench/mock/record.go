package mock

import (
	"bytes"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// Surface names the API endpoint a request hit.
type Surface string

// The surfaces the mock serves; SurfaceNone is an unknown path.
const (
	SurfaceNone                  Surface = ""
	SurfaceChat                  Surface = "chat/completions"
	SurfaceCompletions           Surface = "completions"
	SurfaceEmbeddings            Surface = "embeddings"
	SurfaceModels                Surface = "models"
	SurfaceMessages              Surface = "messages"              // Anthropic
	SurfaceCountTokens           Surface = "messages/count_tokens" // Anthropic
	SurfaceResponses             Surface = "responses"             // OpenAI Responses
	SurfaceGenerateContent       Surface = "generateContent"       // Gemini
	SurfaceStreamGenerateContent Surface = "streamGenerateContent" // Gemini
	SurfaceGeminiCountTokens     Surface = "countTokens"           // Gemini
)

// Recorded is a copy of a request the mock received.
type Recorded struct {
	// Method is the request method, such as "POST".
	Method string
	// Path is the request path, URL-decoded, without the query string.
	Path string
	// Headers maps lower-case header names to values; repeated headers are
	// joined with ", ".
	Headers map[string]string
	// Body is the request body.
	Body []byte
	// Surface is the endpoint the path names, whether or not the request
	// was answered; SurfaceNone for an unknown path.
	Surface Surface
	// Query is the raw query string without `?`, such as "alt=sse&key=k";
	// "" if there was none.
	Query string
}

// rawRequest holds the raw parts of a request, copied into buffers it
// reuses, so that recording costs no allocation per request.
type rawRequest struct {
	seen    bool
	method  []byte
	path    []byte
	query   []byte
	headers []byte // name NUL value NUL, repeated
	body    []byte
}

// recorder keeps the last request of each endpoint.
type recorder struct {
	mu   sync.Mutex
	last endpoint // of the last request; valid once byEndpoint[last].seen
	by   [numEndpoints]rawRequest
}

func (r *recorder) record(ctx *fasthttp.RequestCtx, ep endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = ep
	raw := &r.by[ep]
	raw.seen = true
	raw.method = append(raw.method[:0], ctx.Method()...)
	raw.path = append(raw.path[:0], ctx.Path()...)
	raw.query = append(raw.query[:0], ctx.URI().QueryString()...)
	raw.headers = raw.headers[:0]
	for k, v := range ctx.Request.Header.All() {
		raw.headers = append(raw.headers, k...)
		raw.headers = append(raw.headers, 0)
		raw.headers = append(raw.headers, v...)
		raw.headers = append(raw.headers, 0)
	}
	raw.body = append(raw.body[:0], ctx.Request.Body()...)
}

// LastRequest returns a copy of the last request received; the zero
// Recorded if there was none.
func (s *Server) LastRequest() Recorded {
	r := &s.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.by[r.last].export(r.last)
}

// LastRequestTo returns a copy of the last request received on surface;
// the zero Recorded if there was none. A gateway test that routes to
// several surfaces of one mock uses it to check what each one was sent.
func (s *Server) LastRequestTo(surface Surface) Recorded {
	r := &s.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	for ep, name := range surfaces {
		if name == surface {
			return r.by[ep].export(endpoint(ep))
		}
	}
	return Recorded{}
}

// export copies raw; the caller holds the recorder's lock.
func (raw *rawRequest) export(ep endpoint) Recorded {
	if !raw.seen {
		return Recorded{}
	}
	rec := Recorded{
		Method:  string(raw.method),
		Path:    string(raw.path),
		Headers: make(map[string]string),
		Body:    bytes.Clone(raw.body),
		Surface: ep.surface(),
		Query:   string(raw.query),
	}
	for rest := raw.headers; len(rest) > 0; {
		var k, v []byte
		k, rest, _ = bytes.Cut(rest, []byte{0})
		v, rest, _ = bytes.Cut(rest, []byte{0})
		name := strings.ToLower(string(k))
		if old, ok := rec.Headers[name]; ok {
			rec.Headers[name] = old + ", " + string(v)
		} else {
			rec.Headers[name] = string(v)
		}
	}
	return rec
}
