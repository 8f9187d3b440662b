package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole gateway config. Load fills it from YAML, applies
// defaults and validates it; the result is read-only and safe to share.
type Config struct {
	// Listen is the address to serve on: host:port, or unix:/path for a
	// unix socket (same-host sidecars). Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// DataDir is the Pebble store directory. Default ./data.
	DataDir string `yaml:"data_dir"`
	// Store chooses the backend of keys, accounts, the ledger, limits and
	// the cache: the embedded Pebble store (the default) or PostgreSQL
	// and Redis shared by several gateways.
	Store Store `yaml:"store"`
	// Server holds the client-facing server limits.
	Server Server `yaml:"server"`
	// Log controls logging.
	Log Log `yaml:"log"`
	// Auth lists the gateway keys.
	Auth Auth `yaml:"auth"`
	// Billing holds plans, price overrides and reservation defaults.
	Billing Billing `yaml:"billing"`
	// Cache holds the cost savers that cache: automatic prompt caching and
	// the response cache.
	Cache Cache `yaml:"cache"`
	// WebSearch is the engine behind the :web suffix.
	WebSearch WebSearch `yaml:"web_search"`
	// Telemetry exports OpenTelemetry traces and GenAI metrics; off
	// unless telemetry.otlp_endpoint is set.
	Telemetry Telemetry `yaml:"telemetry"`
	// Aliases map a model name to "provider/model".
	Aliases map[string]string `yaml:"aliases"`
	// Routes give a model name an ordered list of targets.
	Routes []Route `yaml:"routes"`
	// Providers are the upstream hosts.
	Providers []Provider `yaml:"providers"`
}

// Server holds the limits of the client-facing fasthttp server.
type Server struct {
	// MaxBodyBytes caps a request body; larger bodies get 413 before they
	// are buffered. Default 32MiB.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// MaxHeaderBytes caps the request header block. Default 64KiB.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// HeaderTimeout bounds the arrival of a request line and its headers,
	// counted from the accept for a connection's first request and from
	// the first byte of each later one (a keep-alive connection waits
	// idle_timeout for that byte). A client too slow gets 408 and its
	// connection is closed: nginx's client_header_timeout, Caddy's
	// read_header_timeout. Default 10s.
	HeaderTimeout Duration `yaml:"header_timeout"`
	// ReadTimeout and BodyMinRate bound the arrival of a request body,
	// counted from the end of its headers: a body of Content-Length N
	// must be in within read_timeout + N/body_min_rate, a chunked one
	// (length unknown) within read_timeout. A client too slow gets 408
	// and its connection is closed. Default 60s, nginx's
	// client_body_timeout.
	ReadTimeout Duration `yaml:"read_timeout"`
	// BodyMinRate is the slowest rate, in bytes per second, a body may
	// arrive at once read_timeout is spent (Apache mod_reqtimeout's
	// MinRate): the default 64KiB lets a 32MiB body take 60s+512s. At
	// least 1.
	BodyMinRate ByteSize `yaml:"body_min_rate"`
	// IdleTimeout closes idle client keep-alive connections. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConns caps the open client connections. One more is answered
	// 503 (an OpenAI-shaped server_busy error, Connection: close) and
	// closed without being read. Default 16384: above the 10k concurrent
	// streams the gateway is built to hold, and each connection may pin
	// a max_header_bytes read buffer (16384 x 64KiB = 1GiB).
	MaxConns int `yaml:"max_conns"`
	// WriteTimeout bounds how long a client may take to accept each part
	// of a response; a client that stops reading a stream is cut off.
	// Default 60s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// DrainTimeout is how long SIGTERM or SIGINT waits for open requests,
	// streams included, to finish before the gateway exits anyway. Default
	// 30s.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// SSEKeepalive is how often a waiting stream gets a `: keep-alive`
	// comment while the upstream is silent. Default 15s; 0 turns it off.
	SSEKeepalive *Duration `yaml:"sse_keepalive"`
	// SocketMode is the file mode of a unix socket listen creates, in
	// octal. Default 0660: the gateway's user and group may connect.
	SocketMode FileMode `yaml:"socket_mode"`
	// WebSocket is Responses over WebSocket at /v1/responses.
	WebSocket WebSocket `yaml:"websocket"`
}

// WebSocket configures Responses over WebSocket: a client (Codex CLI)
// upgrades GET /v1/responses and sends each turn as a response.create
// message on the open connection. A frame is at most
// server.max_body_bytes.
type WebSocket struct {
	// Disabled answers the upgrade 426 Upgrade Required, which makes
	// Codex fall back to HTTP for the session. Default false: served.
	Disabled bool `yaml:"disabled"`
	// IdleTimeout closes a connection that has been waiting this long
	// for its next message, with close code 1001. Default 10m; OpenAI
	// closes its own after 60m in all.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Log controls logging.
type Log struct {
	// Access writes one line per request to stderr. Default true.
	Access *bool `yaml:"access"`
}

// Auth lists the gateway keys clients present.
type Auth struct {
	// Disabled serves requests without a gateway key (local sidecar use).
	Disabled bool `yaml:"disabled"`
	// MasterKey authenticates the admin API (/api/v1/admin/...); empty
	// turns the admin API off.
	MasterKey Secret `yaml:"master_key"`
	// ViewerKey reads the admin API: its GET endpoints answer it, a
	// change is a 403 that asks for the master key. Empty: no viewer key.
	ViewerKey Secret `yaml:"viewer_key"`
	// Keys are operator keys from the config, beside the keys the admin
	// API creates in the store.
	Keys []Key `yaml:"keys"`
}

// Key is one operator gateway key. Its requests are metered in the
// ledger like any other, but its account is never refused for credit.
type Key struct {
	// Name labels the key in logs and metrics.
	Name string `yaml:"name"`
	// Key is the secret, starting with "sk-sb-".
	Key Secret `yaml:"key"`
	// Account is charged for the key's requests. Default "operator".
	Account string `yaml:"account"`
	// RPM and TPM limit requests and tokens per minute; 0 = unlimited.
	RPM int `yaml:"rpm"`
	TPM int `yaml:"tpm"`
	// Compression compresses the key's requests (over a route's); a
	// request's own settings override it.
	Compression *Compression `yaml:"compression"`
}

// Billing configures what requests cost and what plans exist.
type Billing struct {
	// Disabled turns metering off: no reservations, budgets or ledger
	// entries; responses still report usage.cost. For a pure proxy.
	Disabled bool `yaml:"disabled"`
	// Unpriced says what happens to a model with no catalog price when a
	// metered key calls it: "refuse" (403, the default) or "free".
	// Operator keys may always call it, at $0.
	Unpriced string `yaml:"unpriced"`
	// DefaultMaxOutput is the output budget a reservation assumes when
	// neither the request's max_tokens nor the catalog gives one.
	// Default 4096.
	DefaultMaxOutput int `yaml:"default_max_output"`
	// SyncInterval is how often the ledger and the reservation journal
	// are fsynced, off the requests' path. Every entry and reservation
	// reaches the OS before its request's answer ends, so a process crash
	// (kill -9) loses none whatever the interval; a power loss or kernel
	// crash loses at most what the last interval wrote. "always" instead
	// fsyncs every group commit of the ledger on the writer (as before
	// the interval) and never the journal. Default 100ms; at least 1ms,
	// at most 10s.
	SyncInterval *SyncInterval `yaml:"sync_interval"`
	// Plans are the subscription plans the admin API can assign.
	Plans []Plan `yaml:"plans"`
	// Prices override or add catalog prices, keyed by "provider/model".
	Prices map[string]PriceOverride `yaml:"prices"`
}

// Cache configures caching.
type Cache struct {
	// Prompt is automatic prompt caching for Anthropic-format providers.
	Prompt PromptCache `yaml:"prompt"`
	// Responses is the gateway's own cache of whole answers.
	Responses ResponseCache `yaml:"responses"`
}

// WebSearch configures the search engine that model:web (and :online,
// and the body's plugins: [{"id": "web"}]) runs on the last user
// message before the call.
type WebSearch struct {
	// Engine is "searxng", "brave" or "tavily"; empty turns searching off
	// (a :web call is then answered without results, and says so).
	Engine string `yaml:"engine"`
	// BaseURL is the engine's API root; required for searxng (the
	// instance, with json in its search.formats), optional otherwise.
	BaseURL string `yaml:"base_url"`
	// APIKey is the engine's key (brave, tavily).
	APIKey Secret `yaml:"api_key"`
	// Timeout bounds one search; a slower engine degrades the call to a
	// plain one. Default 5s.
	Timeout Duration `yaml:"timeout"`
	// MaxResults is the results a call gets unless it asks otherwise
	// (plugins[].max_results, web_results_count). Default 5.
	MaxResults int `yaml:"max_results"`
	// ContentLength caps each result's text, in characters. Default 1000.
	ContentLength int `yaml:"content_length"`
	// CacheTTL keeps a query's results in the store for the next calls
	// that ask the same. Default 10m.
	CacheTTL Duration `yaml:"cache_ttl"`
}

// Telemetry configures OpenTelemetry traces and metrics with the GenAI
// semantic conventions, exported over OTLP/HTTP (protobuf) off the
// request path. It is off unless OTLPEndpoint is set, and then costs the
// request path nothing.
type Telemetry struct {
	// OTLPEndpoint is the collector's OTLP/HTTP base URL, such as
	// http://127.0.0.1:4318: traces go to /v1/traces and metrics to
	// /v1/metrics under it. Empty (the default) turns telemetry off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Headers are sent with every export (a vendor's API key, say).
	Headers map[string]Secret `yaml:"headers"`
	// ServiceName is the service.name resource attribute. Default
	// "switchboard".
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of new traces sampled, from 0 to 1; a
	// call whose client sent a W3C traceparent follows the client's
	// sampled flag instead. Default 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// QueueSize bounds the finished spans waiting for export; when the
	// collector falls behind, spans past it are dropped and counted in
	// switchboard_trace_spans_dropped_total, never waited for. Default
	// 4096, at most 1048576.
	QueueSize int `yaml:"queue_size"`
	// ExportTimeout bounds one export of spans or metrics. Default 10s.
	ExportTimeout Duration `yaml:"export_timeout"`
	// MetricsInterval is how often the GenAI metrics are exported.
	// Default 30s, at least 1s.
	MetricsInterval Duration `yaml:"metrics_interval"`
}

// WebEngines are the values WebSearch.Engine accepts.
var WebEngines = []string{"", "searxng", "brave", "tavily"}

// ResponseCache configures the exact-match cache of answers, kept in the
// store: a hit is answered by the gateway in microseconds, as a stream
// when the client asked for one, and costs nothing.
type ResponseCache struct {
	// Enabled caches the deterministic requests of every route (see
	// routes[].cache). A request's x-switchboard-cache header (on, off,
	// refresh) overrides it. Default false.
	Enabled bool `yaml:"enabled"`
	// AnyTemperature caches requests whatever their temperature; by
	// default only temperature 0 is deterministic enough, unless the
	// request says x-switchboard-cache: on.
	AnyTemperature bool `yaml:"any_temperature"`
	// TTL is how long an answer is kept; a request's
	// x-switchboard-cache-ttl overrides it. Default 1h.
	TTL Duration `yaml:"ttl"`
	// MaxBytes bounds the cache on disk (compressed); the entries that
	// expire first are evicted. Default 256MiB.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// PromptCache configures automatic prompt caching: a call to an
// Anthropic-format provider whose client marked no cache_control gets
// breakpoints on the last tool, the system prompt and the last message.
type PromptCache struct {
	// Auto turns it on. Default true; a request's
	// x-switchboard-prompt-cache: on|off overrides it.
	Auto *bool `yaml:"auto"`
	// MinTokens is the shortest prompt (estimated) that gets breakpoints:
	// Anthropic caches nothing shorter than 1024 tokens (more on some
	// models), and a cache write costs 1.25x input. Default 1024.
	MinTokens int `yaml:"min_tokens"`
	// TTL is the cache lifetime asked for: "" (Anthropic's default,
	// 5 minutes), "5m" or "1h" (a dearer write).
	TTL string `yaml:"ttl"`
}

// Plan is a subscription plan: each period it gives an allowance worth
// twice its price, drawn before pay-as-you-go credits.
type Plan struct {
	// Name is how the admin API refers to it.
	Name string `yaml:"name"`
	// Price is what the plan costs per period, in dollars: "25".
	Price Dollars `yaml:"price"`
	// Period is "monthly" (calendar months, the default) or a duration
	// such as "168h".
	Period string `yaml:"period"`
}

// PriceOverride replaces some prices of a catalog model, or adds a model
// (input and output required). Values are dollars per million tokens.
type PriceOverride struct {
	Input      *string `yaml:"input"`
	Output     *string `yaml:"output"`
	CacheRead  *string `yaml:"cache_read"`
	CacheWrite *string `yaml:"cache_write"`
}

// Route gives Model a list of targets and says how to choose among them
// and how to fail over.
type Route struct {
	// Model is the name clients call.
	Model string `yaml:"model"`
	// Strategy orders the targets for each request. Default "priority".
	//
	//	priority    config order
	//	weighted    random, in proportion to each target's weight
	//	latency     lowest average time to first byte first
	//	throughput  most output tokens per second first
	//	price       lowest catalog price (input+output) first
	//	default     random, in proportion to weight/price²: OpenRouter's
	//	            load balancing, cheap targets get most calls
	//
	// Targets whose circuit breaker is open go last whatever the strategy.
	Strategy string `yaml:"strategy"`
	// Targets are "provider/model" strings or {target, weight} objects.
	// At least one.
	Targets []RouteTarget `yaml:"targets"`
	// Fallbacks are model names (routes, aliases, model ids or
	// provider/model) tried in order after every target of this route
	// failed, or at once when a target says the prompt is too long for
	// its context. They are not followed transitively.
	Fallbacks []string `yaml:"fallbacks"`
	// Retry bounds the failover of one request.
	Retry Retry `yaml:"retry"`
	// Timeouts override the providers' own for this route's calls; a
	// field left out keeps the provider's.
	Timeouts Timeouts `yaml:"timeouts"`
	// Cache turns the response cache on (true) or off (false) for this
	// route's deterministic requests; unset keeps cache.responses.enabled.
	Cache *bool `yaml:"cache"`
	// Compression compresses this route's requests; a request's own
	// settings override it.
	Compression *Compression `yaml:"compression"`
	// Hedge starts the next target too when the first is slow to answer;
	// unset: no hedging.
	Hedge *Hedge `yaml:"hedge"`
}

// Hedge configures a route's hedged requests: when the first target has
// not sent the first byte of its answer After into the call, the next
// target of the call's order is started too, the first of the two to
// answer with a 2xx wins and the other is cancelled. The call is billed
// once, for the winner; the loser's tokens are recorded as hedge waste.
// A hedge counts as an attempt (retry.attempts).
type Hedge struct {
	// After is "p95", the first target's observed 95th percentile time
	// to first byte (of streamed or of buffered answers, as the call's;
	// no hedge until 20 were observed), or a positive duration. Required.
	After HedgeAfter `yaml:"after"`
	// Max is how many hedges a call may start: 1, the default and the
	// only value supported.
	Max int `yaml:"max"`
}

// Compression configures context compression for a route or a key: the
// stages that may run and how far the lossy ones go (see
// proxy/compress.Options, which these fields fill).
type Compression struct {
	// Stages: "on" (all), "lossless", "lossy", "off", or a comma-separated
	// list of dedupe, minify, whitespace, truncate, middle-out.
	Stages string `yaml:"stages"`
	// Budget is the prompt tokens the lossy stages aim at; 0 = the model's
	// context window minus max_tokens.
	Budget int `yaml:"budget"`
	// KeepLast messages are never dropped (default 8); HeadLines and
	// TailLines are what a truncated tool result keeps (default 50 each);
	// MinDedupeBytes is the shortest content replaced by a pointer
	// (default 256).
	KeepLast       int `yaml:"keep_last"`
	HeadLines      int `yaml:"head_lines"`
	TailLines      int `yaml:"tail_lines"`
	MinDedupeBytes int `yaml:"min_dedupe_bytes"`
}

// ProviderFormats are the values Provider.Format accepts.
var ProviderFormats = []string{"openai", "anthropic", "responses", "gemini"}

// RouteStrategies are the values Route.Strategy accepts.
var RouteStrategies = []string{"priority", "weighted", "latency", "throughput", "price", "default"}

// RouteTarget is one target of a route. In YAML it is a "provider/model"
// string (weight 1) or an object {target: provider/model, weight: 3}.
type RouteTarget struct {
	// Target is "provider/model".
	Target string `yaml:"target"`
	// Weight is the target's share under the weighted and default
	// strategies, 1 to 1000000. Default 1.
	Weight int `yaml:"weight"`
}

// UnmarshalYAML accepts a plain "provider/model" string or an object.
func (t *RouteTarget) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = RouteTarget{Target: n.Value, Weight: 1}
		return nil
	}
	type plain RouteTarget
	p := plain{Weight: 1} // an explicit weight: 0 stays 0 and fails validation
	if err := n.Decode(&p); err != nil {
		return err
	}
	*t = RouteTarget(p)
	return nil
}

// Retry bounds the failover of one request: how many upstream calls it may
// make over all targets and fallbacks, for how long, and which upstream
// statuses move it to the next target. Connect errors, resets and first-byte
// timeouts always do. Nothing is retried once the first byte reached the
// client.
type Retry struct {
	// Attempts is the most upstream calls per request, the first included,
	// 1 to 10. Default 3.
	Attempts int `yaml:"attempts"`
	// Budget is the most time a request spends failing over; no new
	// attempt starts after it. Default 60s.
	Budget Duration `yaml:"budget"`
	// OnStatus are the upstream statuses that are retried on the next
	// target, each 400 to 599. Default [429, 500, 502, 503, 504, 529 (Anthropic's overloaded)]; [] retries
	// only connection failures and timeouts. 400, 401, 403 and 404 may be
	// listed but rarely belong: they mean the request, key or model id is
	// wrong, which the next target tends to refuse the same way (listing
	// 401/403 makes sense when targets use different keys). A 400 that says
	// the prompt exceeds the context goes to Route.Fallbacks instead.
	OnStatus []int `yaml:"on_status"`
}

// DefaultRetry returns the retry policy of a route that sets none, and of
// models called without a route.
func DefaultRetry() Retry {
	return Retry{Attempts: 3, Budget: Duration(60 * time.Second), OnStatus: []int{429, 500, 502, 503, 504, 529}}
}

// UnmarshalYAML starts from DefaultRetry so that omitted fields keep their
// defaults and explicit zeros fail validation.
func (r *Retry) UnmarshalYAML(n *yaml.Node) error {
	type plain Retry
	p := plain(DefaultRetry())
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = Retry(p)
	return nil
}

// Provider is one upstream host and the wire format it speaks.
type Provider struct {
	// Name is how targets and "provider/model" strings refer to it.
	Name string `yaml:"name"`
	// BaseURL is the API root, e.g. https://api.openai.com/v1.
	BaseURL string `yaml:"base_url"`
	// Format is the wire format the provider speaks: "openai" (chat
	// completions; the default), "anthropic" (Messages, x-api-key),
	// "responses" (OpenAI Responses) or "gemini" (generateContent,
	// x-goog-api-key; base_url ends in /v1beta).
	Format string `yaml:"format"`
	// APIKey is sent upstream as a Bearer token (as x-api-key for the
	// anthropic format, x-goog-api-key for gemini); empty sends none.
	APIKey Secret `yaml:"api_key"`
	// APIKeyHeader, when set, names the header the key is sent in as is,
	// instead: "api-key" for Azure OpenAI.
	APIKeyHeader string `yaml:"api_key_header"`
	// Headers are extra headers sent upstream on every request.
	Headers map[string]string `yaml:"headers"`
	// Models are the ids served by bare name, and patterns with '*'
	// ("claude-*") that serve every id they match: ids listed by any
	// provider win over patterns, and among patterns the first provider
	// in config order wins. Any id can still be called as provider/id.
	Models []string `yaml:"models"`
	// ColonModelIDs keeps unknown ":suffix" parts as part of the model id.
	ColonModelIDs bool `yaml:"colon_model_ids"`
	// MaxConns bounds connections per host. Default 512.
	MaxConns int `yaml:"max_conns"`
	// MaxIdleConns bounds the idle keep-alive connections kept per host,
	// 1 to max_conns: a connection that finishes a call while that many
	// are idle is closed instead of pooled, so a burst does not leave
	// hundreds of idle connections behind (nginx's upstream keepalive).
	// Default 64: enough that a steady load of tens of concurrent calls
	// rarely dials, few enough that the file descriptors of a burst
	// return at once.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// IdleConnTimeout closes a pooled connection that has been idle this
	// long. Default 4s: under the 5s keep-alive timeout of uvicorn (vLLM
	// and most Python servers) and Node.js, so the gateway closes first
	// and never sends on a connection the server is closing, and well
	// within the 10s in which a burst's connections should be gone.
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`
	// Timeouts bound each phase of an upstream call.
	Timeouts Timeouts `yaml:"timeouts"`
	// WebSocket: the provider (format responses) also serves Responses
	// over WebSocket at base_url/responses (ws:// or wss://). A client's
	// WebSocket turns routed to it are then passed through frame by
	// frame on a connection of the gateway's own to the provider, one
	// per client connection, so the provider keeps the conversation
	// (previous_response_id) itself. Default false: turns reach the
	// provider over HTTP, like every other format's.
	WebSocket bool `yaml:"websocket"`

	// Disabled is set by Load when base_url or api_key came from an
	// environment variable that is empty.
	Disabled bool `yaml:"-"`
	// DisabledBy names those empty variables: setting them enables the
	// provider.
	DisabledBy []string `yaml:"-"`
}

// Timeouts bound the phases of an upstream call. Zero means the default.
type Timeouts struct {
	// Connect bounds the TCP (and TLS) dial. Default 5s.
	Connect Duration `yaml:"connect"`
	// FirstByte bounds the wait for response headers. Default 120s.
	FirstByte Duration `yaml:"first_byte"`
	// Idle bounds the silence between reads of a response body. Default 120s.
	Idle Duration `yaml:"idle"`
	// Total bounds the whole call, streams included. Default 10m.
	Total Duration `yaml:"total"`
}

// Load parses YAML config data, expands ${VAR} and ${VAR:-default} in
// string values from getenv, applies defaults and validates the result.
// Every problem is reported with its field path and line.
func Load(data []byte, getenv func(string) string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("cannot parse config: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("cannot parse config: it is empty")
	}
	doc := &root
	lines := map[string]int{}
	emptied := map[string][]string{} // path -> the unset variables that emptied it
	var expandErrs []string
	walk(doc.Content[0], "", func(path string, n *yaml.Node) {
		lines[path] = n.Line
		if n.Kind != yaml.ScalarNode || !strings.Contains(n.Value, "${") {
			return
		}
		raw := n.Value
		v, err := expandEnv(raw, getenv)
		if err != nil {
			expandErrs = append(expandErrs, fmt.Sprintf("line %d: %s: %v", n.Line, path, err))
			return
		}
		n.Value = v
		if n.Style == 0 {
			n.Tag = "" // re-resolve: "${PORT}" may now be an int
		}
		if v == "" {
			emptied[path] = envNames(raw)
		}
	})
	if len(expandErrs) > 0 {
		return nil, fmt.Errorf("invalid config:\n  %s", strings.Join(expandErrs, "\n  "))
	}
	var shape []string
	checkNode(doc.Content[0], reflect.TypeOf(Config{}), "", func(line int, path, msg string) {
		shape = append(shape, fmt.Sprintf("line %d: %s: %s", line, path, msg))
	})
	if len(shape) > 0 {
		return nil, fmt.Errorf("invalid config:\n  %s", strings.Join(shape, "\n  "))
	}
	var c Config
	if err := doc.Decode(&c); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		at := fmt.Sprintf("providers[%d].", i)
		byURL, emptyURL := emptied[at+"base_url"]
		byKey, emptyKey := emptied[at+"api_key"]
		p.Disabled = emptyURL || emptyKey
		p.DisabledBy = append(byURL, byKey...)
	}
	keys := c.Auth.Keys[:0]
	for i, k := range c.Auth.Keys {
		if _, empty := emptied[fmt.Sprintf("auth.keys[%d].key", i)]; empty {
			continue
		}
		keys = append(keys, k)
	}
	c.Auth.Keys = keys
	c.applyDefaults()
	if problems := c.validate(); len(problems) > 0 {
		for i, p := range problems {
			if line, ok := lines[p.path]; ok {
				problems[i].msg = fmt.Sprintf("line %d: %s", line, p.msg)
			}
		}
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.msg
		}
		return nil, fmt.Errorf("invalid config:\n  %s", strings.Join(msgs, "\n  "))
	}
	return &c, nil
}

// checkNode checks the YAML node n against the type t its field (at
// path) decodes into, and reports every problem it finds: keys t has no
// field for, values of the wrong shape (a list where a string goes, a
// word where a number goes), and values a leaf type refuses (a duration,
// a size, an amount of money), each with its line and path. Node.Decode
// stops at the first problem and names no field, so this runs first and
// Decode then meets none.
func checkNode(n *yaml.Node, t reflect.Type, path string, report func(line int, path, msg string)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // the zero value
	}
	if n.Kind == yaml.ScalarNode && reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			report(n.Line, path, strings.TrimPrefix(err.Error(), fmt.Sprintf("line %d: ", n.Line)))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			report(n.Line, path, "want an object of key: value fields, got "+shapeOf(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			p := key.Value
			if path != "" {
				p = path + "." + p
			}
			f, ok := fieldByTag(t, key.Value)
			if !ok {
				report(key.Line, p, "unknown field")
				continue
			}
			checkNode(n.Content[i+1], f.Type, p, report)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			report(n.Line, path, "want a list, got "+shapeOf(n))
			return
		}
		for i, c := range n.Content {
			checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), report)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			report(n.Line, path, "want an object of key: value entries, got "+shapeOf(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkNode(n.Content[i+1], t.Elem(), path+"["+n.Content[i].Value+"]", report)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			report(n.Line, path, "want a string, got "+shapeOf(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Decode(new(bool)) != nil {
			report(n.Line, path, "want true or false, got "+shapeOf(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			report(n.Line, path, "want a whole number, got "+shapeOf(n))
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			report(n.Line, path, "want a number, got "+shapeOf(n))
		}
	}
}

var yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// shapeOf describes a node for an error: its value, or "a list" or "an
// object".
func shapeOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "an object"
	}
	return strconv.Quote(n.Value)
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// walk calls fn for every node below n with its field path
// ("providers[2].base_url").
func walk(n *yaml.Node, path string, fn func(string, *yaml.Node)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			fn(p, n.Content[i+1])
			walk(n.Content[i+1], p, fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			fn(p, c)
			walk(c, p, fn)
		}
	}
}

var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in s.
func expandEnv(s string, getenv func(string) string) (string, error) {
	var bad error
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		inner := ref[2 : len(ref)-1]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !validEnvName(name) {
			bad = fmt.Errorf("bad environment reference %q: want ${NAME} or ${NAME:-default}", ref)
			return ref
		}
		if v := getenv(name); v != "" || !hasDef {
			return v
		}
		return def
	})
	return out, bad
}

// envNames lists the variables s refers to, in order.
func envNames(s string) []string {
	var names []string
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		name, _, _ := strings.Cut(m[1], ":-")
		names = append(names, name)
	}
	return names
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// ListenNetwork splits a listen address into the network and address
// net.Listen takes: "unix" and the path for "unix:/path", else "tcp" and
// addr as it is.
func ListenNetwork(addr string) (network, address string) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return "unix", path
	}
	return "tcp", addr
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	c.Store.applyDefaults()
	s := &c.Server
	setDefault(&s.MaxBodyBytes, 32<<20)
	setDefault(&s.MaxHeaderBytes, 64<<10)
	setDefault(&s.HeaderTimeout, Duration(10*time.Second))
	setDefault(&s.ReadTimeout, Duration(60*time.Second))
	setDefault(&s.BodyMinRate, 64<<10)
	setDefault(&s.IdleTimeout, Duration(120*time.Second))
	setDefault(&s.MaxConns, 16384)
	setDefault(&s.WriteTimeout, Duration(60*time.Second))
	setDefault(&s.DrainTimeout, Duration(30*time.Second))
	setDefault(&s.SocketMode, 0o660)
	setDefault(&s.WebSocket.IdleTimeout, Duration(10*time.Minute))
	if s.SSEKeepalive == nil {
		d := Duration(15 * time.Second)
		s.SSEKeepalive = &d
	}
	setDefault(&c.Billing.Unpriced, "refuse")
	setDefault(&c.Billing.DefaultMaxOutput, 4096)
	if c.Billing.SyncInterval == nil {
		d := SyncInterval(100 * time.Millisecond)
		c.Billing.SyncInterval = &d
	}
	for i := range c.Auth.Keys {
		setDefault(&c.Auth.Keys[i].Account, "operator")
	}
	for i := range c.Billing.Plans {
		setDefault(&c.Billing.Plans[i].Period, "monthly")
	}
	if c.Log.Access == nil {
		on := true
		c.Log.Access = &on
	}
	if c.Cache.Prompt.Auto == nil {
		on := true
		c.Cache.Prompt.Auto = &on
	}
	setDefault(&c.Cache.Prompt.MinTokens, 1024)
	setDefault(&c.Cache.Responses.TTL, Duration(time.Hour))
	setDefault(&c.Cache.Responses.MaxBytes, 256<<20)
	w := &c.WebSearch
	w.BaseURL = strings.TrimRight(w.BaseURL, "/")
	setDefault(&w.Timeout, Duration(5*time.Second))
	setDefault(&w.MaxResults, 5)
	setDefault(&w.ContentLength, 1000)
	setDefault(&w.CacheTTL, Duration(10*time.Minute))
	tel := &c.Telemetry
	tel.OTLPEndpoint = strings.TrimRight(tel.OTLPEndpoint, "/")
	setDefault(&tel.ServiceName, "switchboard")
	if tel.SampleRatio == nil {
		all := 1.0
		tel.SampleRatio = &all
	}
	setDefault(&tel.QueueSize, 4096)
	setDefault(&tel.ExportTimeout, Duration(10*time.Second))
	setDefault(&tel.MetricsInterval, Duration(30*time.Second))
	for i := range c.Routes {
		r := &c.Routes[i]
		setDefault(&r.Strategy, "priority")
		if r.Retry.Attempts == 0 && r.Retry.Budget == 0 && r.Retry.OnStatus == nil {
			r.Retry = DefaultRetry()
		}
		if r.Hedge != nil {
			setDefault(&r.Hedge.Max, 1)
		}
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		p.BaseURL = strings.TrimRight(p.BaseURL, "/")
		setDefault(&p.Format, "openai")
		setDefault(&p.MaxConns, 512)
		setDefault(&p.MaxIdleConns, min(64, p.MaxConns))
		setDefault(&p.IdleConnTimeout, Duration(4*time.Second))
		t := &p.Timeouts
		setDefault(&t.Connect, Duration(5*time.Second))
		setDefault(&t.FirstByte, Duration(120*time.Second))
		setDefault(&t.Idle, Duration(120*time.Second))
		setDefault(&t.Total, Duration(10*time.Minute))
	}
}

func (b *Billing) validate() []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, path + ": " + fmt.Sprintf(format, args...)})
	}
	if b.Unpriced != "refuse" && b.Unpriced != "free" {
		add("billing.unpriced", `want "refuse" or "free", got %q`, b.Unpriced)
	}
	if b.DefaultMaxOutput < 0 {
		add("billing.default_max_output", "must not be negative")
	}
	if si := *b.SyncInterval; !si.Always() && (si.D() < time.Millisecond || si.D() > 10*time.Second) {
		add("billing.sync_interval", `want "always" or a duration from 1ms to 10s, got %s`, si.D())
	}
	seen := map[string]bool{}
	for i, p := range b.Plans {
		at := fmt.Sprintf("billing.plans[%d]", i)
		switch {
		case p.Name == "":
			add(at+".name", "want a plan name")
		case seen[p.Name]:
			add(at+".name", "duplicate plan %q", p.Name)
		}
		seen[p.Name] = true
		if p.Price <= 0 {
			add(at+".price", "want a positive price")
		}
		if _, err := p.PeriodDuration(); err != nil {
			add(at+".period", "%v", err)
		}
	}
	for target := range b.Prices {
		if prov, model, ok := strings.Cut(target, "/"); !ok || prov == "" || model == "" {
			add("billing.prices", "want provider/model keys, got %q", target)
		}
	}
	return ps
}

func (t *Telemetry) validate() []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, path + ": " + fmt.Sprintf(format, args...)})
	}
	if t.OTLPEndpoint != "" {
		if u, err := url.Parse(t.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			add("telemetry.otlp_endpoint", "want the collector's OTLP/HTTP base URL, such as http://127.0.0.1:4318, got %q", t.OTLPEndpoint)
		}
	}
	for name := range t.Headers {
		if name == "" || strings.ContainsAny(name, " :\r\n") {
			add("telemetry.headers", "want header names without spaces or ':', got %q", name)
		}
	}
	if r := *t.SampleRatio; !(r >= 0 && r <= 1) {
		add("telemetry.sample_ratio", "want a share from 0 to 1, got %v", r)
	}
	if t.QueueSize < 1 || t.QueueSize > 1<<20 {
		add("telemetry.queue_size", "want 1 to 1048576 spans, got %d", t.QueueSize)
	}
	if t.ExportTimeout <= 0 {
		add("telemetry.export_timeout", "want a positive duration, got %v", t.ExportTimeout.D())
	}
	if t.MetricsInterval < Duration(time.Second) {
		add("telemetry.metrics_interval", "want at least 1s, got %v", t.MetricsInterval.D())
	}
	return ps
}

// Enabled reports whether telemetry is exported: OTLPEndpoint is set.
func (t *Telemetry) Enabled() bool { return t.OTLPEndpoint != "" }

// knownModel reports whether a fallback model name can resolve: a route,
// an alias, a model id some provider lists, or provider/model of a
// configured provider. Suffixes such as ":floor" are allowed.
func (c *Config) knownModel(name string, routes map[string]bool) bool {
	if prov, _, ok := strings.Cut(name, "/"); ok {
		for _, p := range c.Providers {
			if p.Name == prov {
				return true
			}
		}
	}
	name, _, _ = strings.Cut(name, ":")
	if routes[name] || c.Aliases[name] != "" {
		return true
	}
	for _, p := range c.Providers {
		for _, m := range p.Models {
			if m == name {
				return true
			}
			if pat, err := ParseModelPattern(m); err == nil && pat.Match(name) {
				return true
			}
		}
	}
	return false
}

// PeriodDuration returns the plan period as a duration; 0 means calendar
// months (store.Monthly).
func (p Plan) PeriodDuration() (time.Duration, error) {
	if p.Period == "monthly" {
		return 0, nil
	}
	d, err := time.ParseDuration(p.Period)
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf(`want "monthly" or a duration of at least 1h, got %q`, p.Period)
	}
	return d, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// problem is one validation failure at a field path.
type problem struct {
	path string
	msg  string
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

func (c *Config) validate() []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, path + ": " + fmt.Sprintf(format, args...)})
	}
	if network, addr := ListenNetwork(c.Listen); network == "unix" && addr == "" {
		add("listen", "want unix:/path/to/socket, got %q", c.Listen)
	} else if _, _, err := net.SplitHostPort(addr); network == "tcp" && err != nil {
		add("listen", "want host:port or unix:/path, got %q", c.Listen)
	}
	if c.Server.MaxBodyBytes < 0 || c.Server.MaxHeaderBytes < 0 {
		add("server", "sizes must be positive")
	}
	if s := c.Server; s.HeaderTimeout < 0 || s.ReadTimeout < 0 || s.IdleTimeout < 0 || s.WriteTimeout < 0 || s.DrainTimeout < 0 || *s.SSEKeepalive < 0 || s.WebSocket.IdleTimeout < 0 {
		add("server", "durations must not be negative")
	}
	if c.Server.MaxConns < 0 {
		add("server.max_conns", "want a positive number, got %d", c.Server.MaxConns)
	}

	if w := c.WebSearch; !slices.Contains(WebEngines, w.Engine) {
		add("web_search.engine", "want one of searxng, brave, tavily (or empty), got %q", w.Engine)
	} else if w.MaxResults < 1 || w.MaxResults > 20 || w.ContentLength < 50 || w.Timeout < 0 || w.CacheTTL < 0 {
		add("web_search", "max_results must be 1 to 20, content_length at least 50, durations not negative")
	}
	if rc := c.Cache.Responses; rc.TTL < 0 || rc.MaxBytes < 0 {
		add("cache.responses", "ttl and max_bytes must not be negative")
	}
	if pc := c.Cache.Prompt; pc.MinTokens < 0 || pc.TTL != "" && pc.TTL != "5m" && pc.TTL != "1h" {
		add("cache.prompt", `min_tokens must not be negative and ttl must be "", "5m" or "1h"`)
	}

	// With a master key, the admin API makes the keys; without one, a
	// gateway with no key could serve no one.
	if !c.Auth.Disabled && len(c.Auth.Keys) == 0 && c.Auth.MasterKey == "" {
		add("auth.keys", "no gateway key configured: set SWITCHBOARD_API_KEY, add a key, set auth.master_key to make keys with the admin API, or set auth.disabled: true")
	}
	seenKeys := map[Secret]bool{}
	for i, k := range c.Auth.Keys {
		at := fmt.Sprintf("auth.keys[%d].key", i)
		switch {
		case !strings.HasPrefix(string(k.Key), "sk-sb-"):
			add(at, `want a key starting with "sk-sb-"`)
		case seenKeys[k.Key]:
			add(at, "duplicate key")
		}
		seenKeys[k.Key] = true
		if k.RPM < 0 || k.TPM < 0 || k.RPM > 1e9 || k.TPM > 1e9 {
			add(fmt.Sprintf("auth.keys[%d]", i), "rpm and tpm must be between 0 (unlimited) and 1000000000")
		}
	}
	if m := c.Auth.MasterKey; m != "" && (!strings.HasPrefix(string(m), "sk-sb-") || seenKeys[m]) {
		add("auth.master_key", `want a key starting with "sk-sb-" that is not also a gateway key`)
	}
	if v := c.Auth.ViewerKey; v != "" && (!strings.HasPrefix(string(v), "sk-sb-") || seenKeys[v] || v == c.Auth.MasterKey) {
		add("auth.viewer_key", `want a key starting with "sk-sb-" that is neither a gateway key nor the master key`)
	}
	ps = append(ps, c.Billing.validate()...)
	ps = append(ps, c.Telemetry.validate()...)
	ps = append(ps, c.Store.validate()...)

	providers := map[string]bool{}
	for i := range c.Providers {
		p := &c.Providers[i]
		at := fmt.Sprintf("providers[%d]", i)
		if !providerName.MatchString(p.Name) {
			add(at+".name", "want lower-case letters, digits, '_', '-' or '.', got %q", p.Name)
		} else if providers[p.Name] {
			add(at+".name", "duplicate provider %q", p.Name)
		}
		providers[p.Name] = true
		if !p.Disabled {
			if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(at+".base_url", "want http(s) URL, got %q", p.BaseURL)
			}
		}
		if !slices.Contains(ProviderFormats, p.Format) {
			add(at+".format", "want one of %s, got %q", strings.Join(ProviderFormats, ", "), p.Format)
		}
		if p.WebSocket && p.Format != "responses" {
			add(at+".websocket", "want format responses for a WebSocket provider, got %q", p.Format)
		}
		if p.MaxConns < 0 {
			add(at+".max_conns", "want a positive number, got %d", p.MaxConns)
		}
		if p.MaxConns > 0 && (p.MaxIdleConns < 0 || p.MaxIdleConns > p.MaxConns) {
			add(at+".max_idle_conns", "want 1 to max_conns (%d), got %d", p.MaxConns, p.MaxIdleConns)
		}
		if p.IdleConnTimeout < 0 {
			add(at+".idle_conn_timeout", "want a positive duration, got %v", p.IdleConnTimeout.D())
		}
		t := p.Timeouts
		if t.Connect < 0 || t.FirstByte < 0 || t.Idle < 0 || t.Total < 0 {
			add(at+".timeouts", "durations must not be negative")
		}
		for j, m := range p.Models {
			mat := fmt.Sprintf("%s.models[%d]", at, j)
			if IsModelPattern(m) {
				if _, err := ParseModelPattern(m); err != nil {
					add(mat, "%v", err)
				}
			} else if !validModelName(m) {
				add(mat, "want a model id without spaces, or a pattern like \"claude-*\", got %q", m)
			}
		}
	}

	checkTarget := func(path, target string) {
		prov, model, ok := strings.Cut(target, "/")
		switch {
		case !ok || model == "":
			add(path, "want provider/model, got %q", target)
		case !providers[prov]:
			add(path, "unknown provider %q in %q", prov, target)
		}
	}
	for name, target := range c.Aliases {
		if name == "" || strings.Contains(name, ":") {
			add("aliases", "bad alias name %q", name)
		}
		checkTarget("aliases."+name, target)
	}
	routes := map[string]bool{}
	for _, r := range c.Routes {
		routes[r.Model] = true
	}
	seenRoutes := map[string]bool{}
	for i, r := range c.Routes {
		at := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Model == "" || strings.Contains(r.Model, ":"):
			add(at+".model", "want a model name without ':', got %q", r.Model)
		case seenRoutes[r.Model]:
			add(at+".model", "duplicate route %q", r.Model)
		case c.Aliases[r.Model] != "":
			add(at+".model", "%q is also an alias", r.Model)
		}
		seenRoutes[r.Model] = true
		if !slices.Contains(RouteStrategies, r.Strategy) {
			add(at+".strategy", "want one of %s, got %q", strings.Join(RouteStrategies, ", "), r.Strategy)
		}
		if len(r.Targets) == 0 {
			add(at+".targets", "want at least one provider/model target")
		}
		for j, t := range r.Targets {
			tat := fmt.Sprintf("%s.targets[%d]", at, j)
			checkTarget(tat, t.Target)
			if t.Weight < 1 || t.Weight > 1e6 {
				add(tat+".weight", "want 1 to 1000000, got %d", t.Weight)
			}
		}
		for j, fb := range r.Fallbacks {
			fat := fmt.Sprintf("%s.fallbacks[%d]", at, j)
			switch {
			case fb == r.Model:
				add(fat, "%q falls back to itself", fb)
			case !c.knownModel(fb, routes):
				add(fat, "%q is no route, alias, provider model or provider/model of a configured provider", fb)
			}
		}
		if t := r.Timeouts; t.Connect < 0 || t.FirstByte < 0 || t.Idle < 0 || t.Total < 0 {
			add(at+".timeouts", "durations must not be negative")
		}
		if h := r.Hedge; h != nil {
			switch {
			case !h.After.P95() && h.After <= 0:
				add(at+".hedge.after", "want \"p95\" or a positive duration, got %v", h.After.D())
			case len(r.Targets) < 2 && len(r.Fallbacks) == 0:
				add(at+".hedge", "want a second target or a fallback to hedge with")
			case r.Retry.Attempts < 2:
				add(at+".hedge", "a hedge is an attempt: want retry.attempts of at least 2, got %d", r.Retry.Attempts)
			}
			if h.Max != 1 {
				add(at+".hedge.max", "want 1 (one hedge per call), got %d", h.Max)
			}
		}
		rt := r.Retry
		if rt.Attempts < 1 || rt.Attempts > 10 {
			add(at+".retry.attempts", "want 1 to 10, got %d", rt.Attempts)
		}
		if rt.Budget <= 0 {
			add(at+".retry.budget", "want a positive duration, got %v", rt.Budget.D())
		}
		for j, st := range rt.OnStatus {
			sat := fmt.Sprintf("%s.retry.on_status[%d]", at, j)
			switch {
			case st < 400 || st > 599:
				add(sat, "want an error status from 400 to 599, got %d", st)
			case slices.Contains(rt.OnStatus[:j], st):
				add(sat, "duplicate status %d", st)
			}
		}
	}
	return ps
}
