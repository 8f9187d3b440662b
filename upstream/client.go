// Package upstream sends requests to providers over pooled keep-alive
// connections: one fasthttp HostClient per provider host, with the
// provider's key injected and its timeouts enforced phase by phase.
package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"

	"switchboard/configs"
)

// Endpoint is an API path below a provider's base URL.
type Endpoint uint8

// The endpoints the gateway forwards.
const (
	ChatCompletions       Endpoint = iota // OpenAI format
	Completions                           // OpenAI format
	Embeddings                            // OpenAI format
	Messages                              // Anthropic format
	CountTokens                           // Anthropic format: messages/count_tokens
	Responses                             // OpenAI Responses format
	ResponsesCompact                      // OpenAI Responses format: responses/compact
	GenerateContent                       // Gemini format: models/{model}:generateContent
	StreamGenerateContent                 // Gemini format: models/{model}:streamGenerateContent?alt=sse
	GeminiCountTokens                     // Gemini format: models/{model}:countTokens
	endpointCount
)

var endpointPaths = [endpointCount]string{
	ChatCompletions:       "/chat/completions",
	Completions:           "/completions",
	Embeddings:            "/embeddings",
	Messages:              "/messages",
	CountTokens:           "/messages/count_tokens",
	Responses:             "/responses",
	ResponsesCompact:      "/responses/compact",
	GenerateContent:       "/models/",
	StreamGenerateContent: "/models/",
	GeminiCountTokens:     "/models/",
}

// modelMethods are the Gemini endpoints' suffixes after the model id in
// the path: Gemini names the model in the URL, not the body.
var modelMethods = [endpointCount]string{
	GenerateContent:       ":generateContent",
	StreamGenerateContent: ":streamGenerateContent?alt=sse",
	GeminiCountTokens:     ":countTokens",
}

// Format is the wire format a provider speaks.
type Format uint8

// The wire formats.
const (
	FormatOpenAI    Format = iota // chat completions, Bearer key
	FormatAnthropic               // Messages, x-api-key and anthropic-version
	FormatResponses               // OpenAI Responses, Bearer key
	FormatGemini                  // Gemini generateContent, x-goog-api-key
)

// formatNames are the config names of the formats.
var formatNames = map[string]Format{
	"openai": FormatOpenAI, "anthropic": FormatAnthropic,
	"responses": FormatResponses, "gemini": FormatGemini,
}

// String is the format's config name.
func (f Format) String() string {
	for name, g := range formatNames {
		if g == f {
			return name
		}
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// AnthropicVersion is the anthropic-version sent to Anthropic-format
// providers when the client sent none.
const AnthropicVersion = "2023-06-01"

var (
	headerXAPIKey    = []byte("x-api-key")
	headerGoogAPIKey = []byte("x-goog-api-key")
)

// maxResponseBodyBytes caps a buffered (non-streaming) upstream response.
const maxResponseBodyBytes = 64 << 20

// upstreamReadBuffer is the read buffer of an upstream connection, which
// a stream holds for as long as it lasts, and the largest response header
// block a provider may send (theirs are 1 to 3 KiB). 16 KiB cost every
// open stream 8 KiB more.
const upstreamReadBuffer = 8 << 10

// Provider is one configured upstream host. It is safe for concurrent use.
type Provider struct {
	// Name is the provider's config name.
	Name string
	// Models are the ids it serves by bare name.
	Models []string
	// ColonModelIDs keeps unknown ":suffix" parts in model ids.
	ColonModelIDs bool
	// Disabled is set when the provider's key or URL is not configured.
	Disabled bool
	// EnableWith names the environment variables, unset, whose values
	// would enable a disabled provider (its config's ${VAR}s).
	EnableWith []string
	// Format is the wire format it speaks.
	Format Format

	urls       [endpointCount]string
	auth       []byte // the key header's value
	authHeader []byte
	headers    [][2][]byte
	client     *fasthttp.HostClient
	idle       idleBound
	cfg        configs.Provider
}

// WithTimeouts returns a Provider like p whose calls have the timeouts of
// t where t sets them, on a connection pool of its own (the timeouts
// belong to the pooled connections). A route with its own timeouts uses
// one.
func (p *Provider) WithTimeouts(t configs.Timeouts) (*Provider, error) {
	cfg := p.cfg
	for _, f := range []struct{ dst, src *configs.Duration }{
		{&cfg.Timeouts.Connect, &t.Connect}, {&cfg.Timeouts.FirstByte, &t.FirstByte},
		{&cfg.Timeouts.Idle, &t.Idle}, {&cfg.Timeouts.Total, &t.Total},
	} {
		if *f.src > 0 {
			*f.dst = *f.src
		}
	}
	return New(cfg)
}

// Serves reports whether p was built from exactly cfg, so that a
// reloaded config may keep p and its pool of connections.
func (p *Provider) Serves(cfg configs.Provider) bool { return reflect.DeepEqual(p.cfg, cfg) }

// New builds a Provider from its config. It does not connect.
func New(cfg configs.Provider) (*Provider, error) {
	p := &Provider{
		cfg:           cfg,
		Name:          cfg.Name,
		Models:        cfg.Models,
		ColonModelIDs: cfg.ColonModelIDs,
		Disabled:      cfg.Disabled,
		EnableWith:    cfg.DisabledBy,
	}
	if cfg.Disabled {
		return p, nil
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %q: bad base_url %q: %w", cfg.Name, cfg.BaseURL, err)
	}
	isTLS := u.Scheme == "https"
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[isTLS])
	}
	for i, path := range endpointPaths {
		p.urls[i] = cfg.BaseURL + path
	}
	p.Format = formatNames[cfg.Format]
	p.authHeader = []byte(fasthttp.HeaderAuthorization)
	if cfg.APIKey != "" {
		p.auth = []byte("Bearer " + string(cfg.APIKey))
		switch {
		case cfg.APIKeyHeader != "":
			p.authHeader, p.auth = []byte(cfg.APIKeyHeader), []byte(cfg.APIKey)
		case p.Format == FormatAnthropic:
			p.authHeader, p.auth = headerXAPIKey, []byte(cfg.APIKey)
		case p.Format == FormatGemini:
			p.authHeader, p.auth = headerGoogAPIKey, []byte(cfg.APIKey)
		}
	}
	for k, v := range cfg.Headers {
		p.headers = append(p.headers, [2][]byte{[]byte(k), []byte(v)})
	}
	t := cfg.Timeouts
	firstByte, idle, total := t.FirstByte.D(), t.Idle.D(), t.Total.D()
	connect := t.Connect.D()
	p.client = &fasthttp.HostClient{
		Addr:                      host,
		Name:                      "switchboard",
		IsTLS:                     isTLS,
		TLSConfig:                 &tls.Config{ServerName: u.Hostname(), ClientSessionCache: tls.NewLRUClientSessionCache(64)},
		MaxConns:                  cfg.MaxConns,
		MaxConnWaitTimeout:        connect,
		MaxIdleConnDuration:       cfg.IdleConnTimeout.D(), // 0: fasthttp's 10s
		ReadBufferSize:            upstreamReadBuffer,
		MaxResponseBodySize:       maxResponseBodyBytes,
		MaxIdemponentCallAttempts: 1, // Do retries, and only stale connections
		// LIFO reuses the connection pooled last, so one the load no
		// longer needs stays idle until MaxIdleConnDuration closes it;
		// FIFO would take every pooled connection in turn and keep them
		// all alive under any steady trickle of calls.
		ConnPoolStrategy: fasthttp.LIFO,
		Dial: func(addr string) (net.Conn, error) {
			c, err := fasthttp.DialTimeout(addr, connect)
			if err != nil {
				return nil, err
			}
			tc := newTimedConn(c, firstByte, idle, total)
			tc.pool = &p.idle
			return tc, nil
		},
	}
	p.idle.client, p.idle.max = p.client, int64(cfg.MaxIdleConns)
	return p, nil
}

// idleBound is a provider's max_idle_conns, nginx's upstream keepalive: a
// connection that finishes a call while max are idle in the pool is
// closed instead of pooled, so a burst of calls does not leave its
// connections idle behind it. fasthttp's HostClient pools every
// connection a call leaves open and has no such bound, but it closes a
// connection instead when the request or the response says Connection:
// close by the time the call releases it, which is what the gateway sets:
//
//   - on a streamed response, just before the release (beforeRelease, from
//     Stream.Close or Body);
//   - on the request of a buffered call, at its answer's first byte
//     (timedConn.decideRelease), the last moment the gateway's code runs
//     before fasthttp reads the rest of the answer and releases the
//     connection.
//
// A call let pool its connection counts as idle from that decision to its
// release (pending), so that calls ending together cannot all see room for
// one more. Deciding when a call starts instead (close it if max calls are
// in flight) would be simpler, but under a steady load above max every
// call beyond it would pay a new connection. max 0 (a Provider built
// without configs.Load) bounds nothing.
type idleBound struct {
	client  *fasthttp.HostClient
	max     int64
	pending atomic.Int64
}

// keep reports whether a call about to release its connection may pool
// it. One that may holds a place until it calls released.
func (b *idleBound) keep() bool {
	n := b.pending.Add(1)
	if b.max == 0 || int64(b.client.IdleConnsCount())+n <= b.max {
		return true
	}
	b.pending.Add(-1)
	return false
}

// released gives back the place keep gave, once the connection is pooled.
func (b *idleBound) released() { b.pending.Add(-1) }

// beforeRelease is called just before fasthttp releases the connection of
// the streamed response resp. It marks resp Connection: close if the pool
// is full; otherwise it returns the bound whose released the caller must
// call after the release.
func beforeRelease(resp *fasthttp.Response) *idleBound {
	tc := connOf(resp.LocalAddr())
	if tc == nil || tc.pool == nil {
		return nil
	}
	if tc.pool.keep() {
		return tc.pool
	}
	resp.SetConnectionClose()
	return nil
}

// SetRequest makes req a POST of body to the provider's endpoint, with the
// provider's key and headers; model is the model id of the Gemini
// endpoints, which take it in the path. req keeps a reference to body: do
// not modify body until the call is done.
func (p *Provider) SetRequest(req *fasthttp.Request, ep Endpoint, model string, body []byte) {
	req.Header.SetMethod(fasthttp.MethodPost)
	if m := modelMethods[ep]; m != "" {
		var buf [256]byte
		uri := appendPathEscaped(append(buf[:0], p.urls[ep]...), model)
		req.SetRequestURIBytes(append(uri, m...))
	} else {
		req.SetRequestURI(p.urls[ep])
	}
	req.Header.SetContentType("application/json")
	if p.auth != nil {
		req.Header.SetBytesKV(p.authHeader, p.auth)
	}
	for _, h := range p.headers {
		req.Header.SetBytesKV(h[0], h[1])
	}
	req.SetBodyRaw(body)
}

// appendPathEscaped appends s as one URL path segment: bytes other than
// letters, digits and "-._~" are percent-encoded, so that a model id from
// a client cannot change the path or add a query.
func appendPathEscaped(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9',
			b == '-', b == '.', b == '_', b == '~':
			dst = append(dst, b)
		default:
			dst = append(dst, '%', hex[b>>4], hex[b&0xf])
		}
	}
	return dst
}

// statusClientClosed is the status logged for a call whose client went
// away (nginx's 499).
const statusClientClosed = 499

// maxStaleRetries bounds how many stale pooled connections one Do may
// meet in a row.
const maxStaleRetries = 2

// Do sends req and reads the response. With resp.StreamBody set it returns
// after the headers and the body is read through a Stream. Errors are
// *Error.
func (p *Provider) Do(req *fasthttp.Request, resp *fasthttp.Response) error {
	return p.DoUntil(req, resp, nil)
}

// DoUntil is Do for a client that may go away: while the call waits on
// the provider (see Watch), a client that leaves ends it with
// ErrCanceled and its connection is closed, which is how a provider
// learns to stop. w may be nil. A streamed answer keeps w armed for the
// Stream that reads it; any other outcome disarms it.
func (p *Provider) DoUntil(req *fasthttp.Request, resp *fasthttp.Response, w *Watch) error {
	if p.client == nil {
		return &Error{Provider: p.Name, Status: fasthttp.StatusServiceUnavailable, Err: errDisabled}
	}
	wb := watchBodies.Get().(*watchBody)
	defer func() {
		*wb = watchBody{}
		watchBodies.Put(wb)
	}()
	wb.body, wb.resp, wb.watch = req.Body(), resp, w
	stream := resp.StreamBody
	if !stream {
		wb.req, wb.pool = req, &p.idle
	}
	for attempt := 0; ; attempt++ {
		resp.Reset() // so that LocalAddr below is this attempt's connection
		resp.StreamBody = stream
		wb.off = 0
		req.SetBodyStream(wb, len(wb.body))
		err := p.client.Do(req, resp)
		wb.settle()
		if err == nil {
			if w != nil && resp.BodyStream() == nil {
				w.disarm() // the whole answer is in
			}
			return nil
		}
		if w != nil {
			w.disarm()
		}
		// A pooled keep-alive connection the provider closed while idle
		// fails before the first byte of its answer: the request never
		// reached a live server, so it is sent again, on another
		// connection. The same failure on a new connection is not
		// retried: the provider may have the request.
		tc := connOf(resp.LocalAddr())
		switch {
		case tc != nil && tc.staleFailure && attempt < maxStaleRetries:
			continue
		case tc != nil && tc.canceled: // fasthttp reports it as a closed connection
			return &Error{Provider: p.Name, Status: statusClientClosed, Err: ErrCanceled}
		}
		return classify(p.Name, err)
	}
}

// watchBody is a request body that, when fasthttp starts writing it,
// tells the connection it goes out on (found through the response's
// LocalAddr, set by then) whose client to watch: fasthttp picks the
// connection inside Do, and this is the one moment the gateway's code
// runs with both at hand.
type watchBody struct {
	body  []byte
	off   int
	resp  *fasthttp.Response
	watch *Watch

	// A buffered call's request and pool, for the pool decision its
	// answer's first byte makes (timedConn.decideRelease): kept holds a
	// place in the pool, markedClose put Connection: close on req. settle
	// undoes either once fasthttp has pooled or closed the connection.
	req         *fasthttp.Request
	pool        *idleBound
	kept        bool
	markedClose bool
}

// settle ends the pool decision of the attempt that just ended: the place
// in the pool is given back, and the Connection: close taken off req,
// which the caller may send again, elsewhere. It runs on the call's side:
// by now the connection may be serving another call.
func (w *watchBody) settle() {
	if w.kept {
		w.pool.released()
		w.kept = false
	}
	if w.markedClose {
		w.req.Header.ResetConnectionClose()
		w.markedClose = false
	}
}

var watchBodies = sync.Pool{New: func() any { return new(watchBody) }}

func (w *watchBody) Read(b []byte) (int, error) {
	if w.off == 0 {
		w.bind()
	}
	if w.off >= len(w.body) {
		return 0, io.EOF
	}
	n := copy(b, w.body[w.off:])
	w.off += n
	return n, nil
}

// WriteTo writes the whole body at once: fasthttp prefers it to Read,
// which would copy a large body through its 4 KB buffer, a write(2) per
// 4 KB.
func (w *watchBody) WriteTo(dst io.Writer) (int64, error) {
	if w.off == 0 {
		w.bind()
	}
	n, err := dst.Write(w.body[w.off:])
	w.off += n
	return int64(n), err
}

// bind tells the connection the body goes out on whose client to watch,
// for this request: the one whose first write started (the headers may
// have gone out already) or, if none did, the next.
func (w *watchBody) bind() {
	tc := connOf(w.resp.LocalAddr())
	if tc == nil {
		return
	}
	tc.watch, tc.watchFor = w.watch, tc.requests
	tc.call = nil
	if w.req != nil {
		tc.call = w
	}
	if !tc.writing {
		tc.watchFor++
	}
	if w.watch != nil {
		w.watch.bind(tc)
	}
}

// Body returns a buffered response body, decompressed when the provider
// sent gzip, zstd, br or deflate. A streamed body is read to the end first.
func Body(resp *fasthttp.Response) ([]byte, error) {
	if resp.BodyStream() != nil { // reading it to the end releases the connection
		if b := beforeRelease(resp); b != nil {
			defer b.released()
		}
	}
	if len(resp.Header.ContentEncoding()) == 0 {
		return resp.Body(), nil
	}
	b, err := resp.BodyUncompressed()
	if err != nil {
		return nil, fmt.Errorf("cannot decode %q response body: %w", resp.Header.ContentEncoding(), err)
	}
	return b, nil
}

// Stream reads a streamed response body as it arrives. The zero value is
// ready for Open; it may be reused after Close.
type Stream struct {
	provider string
	resp     *fasthttp.Response
	conn     *timedConn
	body     io.Reader
}

// Open starts reading resp's streamed body. keepalive > 0 makes Read return
// ErrKeepaliveTick whenever the provider is silent that long.
func (s *Stream) Open(provider string, resp *fasthttp.Response, keepalive time.Duration) error {
	s.provider, s.resp = provider, resp
	s.body = resp.BodyStream()
	if s.body == nil {
		return &Error{Provider: provider, Status: fasthttp.StatusBadGateway, Err: errors.New("response has no body stream")}
	}
	s.conn = connOf(resp.LocalAddr())
	if s.conn != nil {
		s.conn.tick = keepalive
	}
	switch enc := string(resp.Header.ContentEncoding()); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(s.body)
		if err != nil {
			return &Error{Provider: provider, Status: fasthttp.StatusBadGateway, Err: fmt.Errorf("cannot read gzip stream: %w", err)}
		}
		s.body = zr
	case "zstd":
		zr, err := zstd.NewReader(s.body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return &Error{Provider: provider, Status: fasthttp.StatusBadGateway, Err: fmt.Errorf("cannot read zstd stream: %w", err)}
		}
		s.body = zr.IOReadCloser()
	default:
		return &Error{Provider: provider, Status: fasthttp.StatusBadGateway, Err: fmt.Errorf("unsupported stream encoding %q", enc)}
	}
	return nil
}

// Read reads the next bytes of the body. Besides io.EOF it returns
// ErrKeepaliveTick (harmless, read again) or an *Error, whose Err is
// ErrCanceled when the call's Watch saw its client go.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	switch {
	case err == nil, err == io.EOF, err == errTick:
		return n, err
	case errors.Is(err, errTick):
		return n, errTick
	case s.conn != nil && s.conn.canceled:
		return n, &Error{Provider: s.provider, Status: statusClientClosed, Err: ErrCanceled}
	}
	return n, classify(s.provider, err)
}

// Close ends the stream. A body not read to the end closes the connection
// at once, which cancels the upstream request; a finished one goes back to
// the pool.
func (s *Stream) Close() {
	if s.conn != nil {
		s.conn.tick = 0
		if w := s.conn.watch; w != nil {
			w.disarm() // before the connection can go back to the pool
		}
	}
	if c, ok := s.body.(io.Closer); ok && s.body != s.resp.BodyStream() {
		_ = c.Close()
	}
	b := beforeRelease(s.resp)
	_ = s.resp.CloseBodyStream()
	if b != nil {
		b.released()
	}
	*s = Stream{}
}

// MoveWatch makes to the watch of the rest of resp's streamed answer, in
// place of from, the watch DoUntil was given, which it disarms: a hedged
// call reads the winning attempt's answer under its own client's watch.
// The caller owns both watches, and from's goroutine is done with resp.
func MoveWatch(resp *fasthttp.Response, from, to *Watch) {
	from.disarm()
	tc := connOf(resp.LocalAddr())
	if tc == nil || resp.BodyStream() == nil {
		return
	}
	tc.watch = to
	to.bind(tc)
}

// Abandon drops resp, an answer nobody will read: a streamed body not
// read to the end closes its connection instead of pooling it, which is
// how the provider learns to stop. w, the watch DoUntil was given, is
// disarmed. A whole answer's connection was pooled when it was read.
func Abandon(resp *fasthttp.Response, w *Watch) {
	if w != nil {
		w.disarm()
	}
	if resp.BodyStream() == nil {
		return
	}
	resp.SetConnectionClose()
	_ = resp.CloseBodyStream()
}
