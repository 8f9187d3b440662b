// Package mock is a fast fake AI provider for tests and the overhead
// bench. It speaks OpenAI (chat completions, text completions, embeddings,
// the model list, Responses), Anthropic Messages and Gemini with
// deterministic content, streams each in its API's exact event format,
// and injects faults (status codes, delays, slow first tokens, connection
// resets, in-band stream errors, tool calls, thinking, compressed bodies)
// on request.
//
// Endpoints; OpenAI and Anthropic ones are served with and without the
// /v1 prefix:
//
//	POST /v1/chat/completions, /v1/completions, /v1/embeddings, GET /v1/models
//	POST /v1/responses                       OpenAI Responses
//	GET /v1/responses (WebSocket upgrade)    Responses over WebSocket (websocket.go)
//	POST /v1/messages, /v1/messages/count_tokens
//	                                         Anthropic Messages (?beta=true ok)
//	POST /v1beta/models/{model}:generateContent
//	POST /v1beta/models/{model}:streamGenerateContent[?alt=sse]
//	POST /v1beta/models/{model}:countTokens  Gemini (also under /v1/models/)
//
// Credentials, any non-empty value accepted: OpenAI surfaces want
// `Authorization: Bearer <key>` (else 401); Anthropic ones `x-api-key`
// (else 401 authentication_error) and `anthropic-version` (else 400);
// Gemini ones `x-goog-api-key` or `?key=` (else 403 PERMISSION_DENIED,
// or 401 UNAUTHENTICATED if an Authorization header came instead). Every
// error, refusal or injected, is in the surface's own shape: OpenAI
// {"error":{"message","type","param","code"}}, Anthropic
// {"type":"error","error":{"type","message"},"request_id"} (status 529 is
// overloaded_error; Anthropic answers also carry a request-id header),
// Google {"error":{"code","message","status"}}. Anthropic wants
// max_tokens on /v1/messages, as the real API does.
//
// Answers echo the request's model (Gemini: the model path segment,
// URL-decoded, as modelVersion); content chunk i is "chunk i ", so the
// default answer is "chunk 0 chunk 1 ... chunk 7 ", and thinking piece i
// is "thought i ". Usage counts about a token per four bytes of request
// body and two per chunk or thinking piece; cached tokens are reported
// the way each API does (OpenAI and Gemini count them inside the prompt
// tokens, Anthropic's input_tokens leaves them out). Streams: OpenAI chat
// and completions end with [DONE]; Anthropic sends message_start,
// content_block_start, ping, content_block_delta..., content_block_stop,
// message_delta, message_stop; Responses sends typed events numbered by
// sequence_number from response.created to response.completed; Gemini
// sends one GenerateContentResponse per chunk, as SSE events ending in
// "\r\n\r\n" with alt=sse (as Google does) or else as one JSON array.
//
// Faults are selected by directives appended to the model name after `+`
// (`mock-model+status=500+delay=50ms`; for Gemini in the path,
// `models/gemini-x+tools=1:generateContent`, `+` or %2B) or by the header
// `x-mock: status=500,delay=50ms`; both lists apply, the model's last. All
// work on every surface unless noted:
//
//	status=N        answer N (400-599) with an error body
//	retry_after=S   with status: also send `retry-after: S`
//	delay=DUR       sleep DUR before the response headers
//	ttft=DUR        streaming: headers at once, first event after DUR;
//	                non-streaming: added to delay
//	chunks=N        N content chunks instead of Options.Chunks
//	gap=DUR         DUR between streamed deltas instead of
//	                Options.ChunkDelay
//	reset=N         streaming: reset the TCP connection after N events
//	                (for chat, the first N chunks); non-streaming: reset
//	                without answering
//	tools=N         answer with a get_weather tool call whose arguments
//	                are split over N streamed deltas (chat tool_calls,
//	                Anthropic tool_use with input_json_delta and
//	                stop_reason tool_use, a Responses function_call item;
//	                Gemini sends one whole functionCall part); completions
//	                and embeddings ignore it
//	thinking=N      (alias reasoning=N) N thinking pieces before the
//	                answer: an Anthropic thinking block (N thinking_delta,
//	                then a signature_delta with a fixed base64 signature);
//	                a Responses reasoning item (summary events and text if
//	                the request sets reasoning.summary, a fixed
//	                encrypted_content if include asks for
//	                reasoning.encrypted_content, reasoning_tokens 2N);
//	                Gemini thoughtsTokenCount 2N, and "thought": true parts
//	                if thinkingConfig.includeThoughts; OpenAI chat,
//	                completions and embeddings ignore it
//	cached=N        report N of the prompt tokens as read from the cache
//	                (prompt_tokens_details.cached_tokens,
//	                cache_read_input_tokens,
//	                input_tokens_details.cached_tokens,
//	                cachedContentTokenCount)
//	streamerror=N   streaming: after N deltas (or after the last one if
//	                there are fewer) end the stream cleanly with the
//	                surface's in-band error instead of the rest: OpenAI
//	                chat and completions a data: {"error":{...}} event and
//	                no [DONE]; Anthropic `event: error` with overloaded_error
//	                "Overloaded"; Responses response.failed; Gemini a
//	                {"error":{"code":503,...,"status":"UNAVAILABLE"}} chunk.
//	                Non-streamed answers ignore it
//	hold=DUR        go silent for DUR partway through the answer, watching
//	                the connection: a stream after its first event, a
//	                whole answer after its headers (before its body). The
//	                mock records each hold and when it saw the client
//	                close the connection during it (Holds): a gateway test
//	                learns that its upstream call was cancelled, and
//	                when. A hold that sees the close sends nothing more
//	holdafter=N     with hold: hold after N events instead of 1 (a whole
//	                answer: any N > 0 is after its headers); 0: before the
//	                response headers, on every surface
//	gzip, zstd      compress a non-streamed body with that Content-Encoding
//	fail=P          with probability P (0 to 1): answer 500 with an error
//	                body
//	resetp=P        with probability P: reset the TCP connection without
//	                answering (streaming too: before the headers)
//	stallp=P        with probability P: sleep the stall before the response
//	                headers, then answer as usual
//	stall=DUR       how long a stallp= stall sleeps (default 30s); the mock
//	                cannot tell that the client gave up, so only Close cuts
//	                a stall short
//
// The random faults are drawn once per request that asks for any: one
// uniform number picks at most one of them, so they exclude each other,
// each happens at its own rate, and their probabilities may add up to at
// most 1 (`fail=0.2+resetp=0.05+stallp=0.05`: 20% 500s, 5% resets, 5%
// stalls, 70% answers). The draws come from one PCG generator per server
// seeded with Options.Seed: requests sent one at a time draw the same
// faults on every run; concurrent requests draw the same sequence, in
// the order they arrive. Injected counts what was drawn. A drawn stall
// adds to delay= and Options.Latency; status= answers instead of a drawn
// 500 or reset.
//
// An unknown or malformed directive gets 400.
//
// LastRequest and LastRequestTo return what was sent, with the Surface it
// hit, so that gateway tests can check the headers (anthropic-version,
// anthropic-beta) and the translated body that went upstream.
//
// The files for each surface cite the API references they follow.
package mock

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Options configure a mock; zero values mean defaults.
type Options struct {
	// Latency is a fixed delay before answering any request. Default 0.
	Latency time.Duration
	// Chunks is the number of streamed content chunks, and of content pieces
	// in a non-streamed answer. Default 8.
	Chunks int
	// ChunkDelay is the delay between streamed chunks. Default 0.
	ChunkDelay time.Duration
	// Seed seeds the generator of the random faults (fail=, resetp=,
	// stallp=). Zero is a seed like any other: a mock is reproducible
	// unless it is given a different one.
	Seed uint64
	// NoWebSocket answers a WebSocket upgrade of /v1/responses 426
	// Upgrade Required, as a provider without WebSocket mode does.
	NoWebSocket bool
}

// Injected counts the random faults a mock drew (fail=, resetp=,
// stallp=).
type Injected struct {
	// Draws is the number of requests that asked for a random fault.
	Draws int64 `json:"draws"`
	// Fails, Resets and Stalls are the requests answered 500, reset and
	// stalled.
	Fails  int64 `json:"fails"`
	Resets int64 `json:"resets"`
	Stalls int64 `json:"stalls"`
}

const defaultChunks = 8

// readBufferSize bounds the request header block the mock accepts. Coding
// CLIs send large headers, and the gateway may forward them.
const readBufferSize = 32 << 10

// maxBodySize bounds request bodies; larger ones are refused by fasthttp.
const maxBodySize = 64 << 20

// Server is a running mock provider. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	ln   *trackedListener
	srv  *fasthttp.Server

	requests atomic.Int64
	seq      atomic.Int64
	wsTurns  atomic.Int64 // response.create messages (websocket.go)
	wsConns  atomic.Int64 // open WebSocket connections
	rec      recorder
	conns    connSet
	holds    holdLog

	// rng draws the random faults; math/rand/v2 generators are not safe
	// for concurrent use, so rngMu guards it.
	rngMu    sync.Mutex
	rng      *rand.Rand
	injected [4]atomic.Int64 // by outcome; outcomeNone counts the draws

	// done is closed by Close; sleeping handlers and streams watch it.
	done      chan struct{}
	served    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start listens on addr (for example "127.0.0.1:0") and serves in the
// background until Close.
func Start(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot start mock on %q: %w", addr, err)
	}
	s := newServer(ln, opts)
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(s.ln)
	}()
	return s, nil
}

// ListenAndServe listens on addr and serves in the foreground. It returns
// only when listening or serving fails.
func ListenAndServe(addr string, opts Options) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot start mock on %q: %w", addr, err)
	}
	s := newServer(ln, opts)
	defer close(s.served)
	if err := s.srv.Serve(s.ln); err != nil {
		return fmt.Errorf("mock on %q stopped: %w", addr, err)
	}
	return nil
}

func newServer(ln net.Listener, opts Options) *Server {
	if opts.Chunks <= 0 {
		opts.Chunks = defaultChunks
	}
	s := &Server{
		opts:   opts,
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^seedMix)),
		done:   make(chan struct{}),
		served: make(chan struct{}),
	}
	s.ln = &trackedListener{Listener: ln, conns: &s.conns}
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		Name:                  "switchboard-mock",
		ReadBufferSize:        readBufferSize,
		MaxRequestBodySize:    maxBodySize,
		NoDefaultServerHeader: true,
		// Clients that reset or drop connections are part of the tests;
		// fasthttp would log every one of them.
		Logger: discardLogger{},
	}
	return s
}

// URL returns the mock's base URL, "http://127.0.0.1:PORT", without /v1.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Addr returns the address the mock listens on, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Requests returns the number of requests received so far, answered or
// not; each response.create message of a WebSocket is one.
func (s *Server) Requests() int64 { return s.requests.Load() }

// WebSocketTurns returns the number of response.create messages received
// on WebSocket connections so far.
func (s *Server) WebSocketTurns() int64 { return s.wsTurns.Load() }

// WebSocketConns returns the number of WebSocket connections open now.
func (s *Server) WebSocketConns() int64 { return s.wsConns.Load() }

// Injected returns the random faults drawn so far.
func (s *Server) Injected() Injected {
	return Injected{
		Draws:  s.injected[outcomeNone].Load(),
		Fails:  s.injected[outcomeFail].Load(),
		Resets: s.injected[outcomeReset].Load(),
		Stalls: s.injected[outcomeStall].Load(),
	}
}

// seedMix makes the generator's second word differ from its first.
const seedMix = 0x9e3779b97f4a7c15

// draw picks the random fault of a request whose faults ask for one, and
// counts it.
func (s *Server) draw(f *faults) outcome {
	s.rngMu.Lock()
	u := s.rng.Float64()
	s.rngMu.Unlock()
	o := f.pick(u)
	s.injected[outcomeNone].Add(1)
	if o != outcomeNone {
		s.injected[o].Add(1)
	}
	return o
}

// OpenConns returns the number of currently open TCP connections.
func (s *Server) OpenConns() int64 { return s.conns.open.Load() }

// Close stops listening, closes open connections, wakes sleeping handlers
// and waits for the accept loop to end. Calling it again returns the same
// result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		if err := s.ln.Close(); err != nil {
			s.closeErr = fmt.Errorf("cannot close mock listener on %q: %w", s.ln.Addr(), err)
		}
		s.conns.closeAll()
		<-s.served
	})
	return s.closeErr
}

// sleep waits d, or less if the server closes; it reports whether the full
// time passed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
