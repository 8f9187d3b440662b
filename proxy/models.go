package proxy

import (
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"switchboard/router"
	"switchboard/store/money"
	"switchboard/upstream"
	"switchboard/upstream/canon"
)

// modelList holds the precomputed answers of the model-list endpoints in
// each caller's shape, built with each runtime from its immutable router.
//
//   - OpenAI (GET /v1/models): OpenAI's list with OpenRouter's extras per
//     model: context_length, max_completion_tokens, pricing (dollars per
//     token as decimal strings) and supported_parameters.
//   - Anthropic (the same paths with an anthropic-version header): the
//     Models API's list, with max_input_tokens and max_tokens.
//   - Gemini (GET /v1beta/models, and /v1/models with a Gemini key):
//     models.list, with inputTokenLimit and outputTokenLimit.
//
// Limits are the route's effective ones (router.ModelInfo); a limit or
// price the catalog does not know is left out rather than guessed. Every
// model is listed at once: has_more is false and there is no page token.
type modelList struct {
	openAI, anthropic, gemini shapeList
}

// shapeList is one shape's whole list and each model's own answer, and
// the count of the requests it answered.
type shapeList struct {
	all      []byte
	byID     map[string][]byte
	requests *metrics.Counter
}

// The model-list requests answered, by the caller's shape: which clients
// discover models through the gateway.
var (
	modelListOpenAI    = metrics.NewCounter(`switchboard_model_list_requests_total{shape="openai"}`)
	modelListAnthropic = metrics.NewCounter(`switchboard_model_list_requests_total{shape="anthropic"}`)
	modelListGemini    = metrics.NewCounter(`switchboard_model_list_requests_total{shape="gemini"}`)
)

func newModelList(models []router.ModelInfo) *modelList {
	ml := &modelList{}
	ml.openAI = newShapeList(models, `{"object":"list","data":[`, "]}", appendOpenAIModel, nil)
	ml.openAI.requests = modelListOpenAI
	chat := func(m router.ModelInfo) bool { return !isEmbedding(m) }
	ml.anthropic = newShapeList(models, `{"data":[`, "", appendAnthropicModel, chat)
	ml.anthropic.requests = modelListAnthropic
	// Anthropic's list ends with the ids of its first and last entries.
	var first, last string
	for _, m := range models {
		if chat(m) {
			if first == "" {
				first = m.ID
			}
			last = m.ID
		}
	}
	ml.anthropic.all = append(ml.anthropic.all, `],"has_more":false,"first_id":`...)
	ml.anthropic.all = appendStringOrNull(ml.anthropic.all, first)
	ml.anthropic.all = append(ml.anthropic.all, `,"last_id":`...)
	ml.anthropic.all = appendStringOrNull(ml.anthropic.all, last)
	ml.anthropic.all = append(ml.anthropic.all, '}')
	ml.gemini = newShapeList(models, `{"models":[`, "]}", appendGeminiModel, chat)
	ml.gemini.requests = modelListGemini
	return ml
}

// newShapeList lists the models keep accepts (all for nil) with one
// model's appender between head and tail.
func newShapeList(models []router.ModelInfo, head, tail string, appendOne func([]byte, router.ModelInfo) []byte, keep func(router.ModelInfo) bool) shapeList {
	sl := shapeList{byID: make(map[string][]byte, len(models))}
	sl.all = append(sl.all, head...)
	for _, m := range models {
		if keep != nil && !keep(m) {
			continue
		}
		one := appendOne(nil, m)
		sl.byID[m.ID] = one
		sl.all = canon.AppendElem(sl.all)
		sl.all = append(sl.all, one...)
	}
	sl.all = append(sl.all, tail...)
	return sl
}

func appendStringOrNull(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return canon.AppendString(dst, s)
}

// appendOpenAIModel appends m as OpenAI's model object with OpenRouter's
// extras.
func appendOpenAIModel(dst []byte, m router.ModelInfo) []byte {
	dst = append(dst, `{"id":`...)
	dst = canon.AppendString(dst, m.ID)
	dst = append(dst, `,"object":"model","created":0,"owned_by":`...)
	dst = canon.AppendString(dst, m.OwnedBy)
	if m.Context > 0 {
		dst = canon.AppendIntField(dst, "context_length", int64(m.Context))
	}
	if m.MaxOutput > 0 {
		dst = canon.AppendIntField(dst, "max_completion_tokens", int64(m.MaxOutput))
	}
	if e := m.Entry; e != nil {
		dst = append(dst, `,"pricing":{"prompt":`...)
		dst = appendPerToken(dst, e.Price.Input)
		dst = append(dst, `,"completion":`...)
		dst = appendPerToken(dst, e.Price.Output)
		dst = append(dst, `,"input_cache_read":`...)
		dst = appendPerToken(dst, e.Price.CacheRead)
		dst = append(dst, `,"input_cache_write":`...)
		dst = appendPerToken(dst, e.Price.CacheWrite)
		dst = append(dst, `},"architecture":{"input_modalities":[`...)
		for _, mod := range e.Modalities {
			dst = canon.AppendString(canon.AppendElem(dst), mod)
		}
		dst = append(dst, `],"output_modalities":["text"]}`...)
	}
	if !isEmbedding(m) {
		dst = canon.AppendRawField(dst, "supported_parameters", supportedParameters[m.Format])
	}
	return append(dst, '}')
}

// isEmbedding reports whether the catalog knows m as a model that
// produces no completion tokens: a window but no output cap. (A model a
// price override added has neither.)
func isEmbedding(m router.ModelInfo) bool {
	return m.Entry != nil && m.Entry.Context > 0 && m.Entry.MaxOutput == 0
}

// supportedParameters are the chat parameters a client can send a model
// whose first provider speaks the format: those every translation
// carries, and for OpenAI's chat format the ones passed through as is.
var supportedParameters = func() map[upstream.Format]string {
	common := `"max_tokens","temperature","top_p","stop","tools","tool_choice","parallel_tool_calls","response_format","reasoning"`
	return map[upstream.Format]string{
		upstream.FormatOpenAI:    `[` + common + `,"seed","frequency_penalty","presence_penalty","logit_bias","logprobs","top_logprobs"]`,
		upstream.FormatResponses: `[` + common + `]`,
		upstream.FormatAnthropic: `[` + common + `,"top_k"]`,
		upstream.FormatGemini:    `[` + common + `,"top_k"]`,
	}
}()

// appendPerToken appends price p, per million tokens in nano-dollars, as
// OpenRouter writes prices: dollars per token as a decimal string. One
// nano-dollar per million tokens is 1e-15 dollars per token, so the
// conversion is exact: the integer part, then up to 15 decimals with
// trailing zeros cut ("0.000003" for $3 per million).
func appendPerToken(dst []byte, p money.Money) []byte {
	const perToken = 1_000_000 * money.Dollar // nano-dollars per million tokens = $1 per token
	v := uint64(max(p, 0))
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, v/uint64(perToken), 10)
	if frac := v % uint64(perToken); frac > 0 {
		var digits [15]byte
		for i := len(digits) - 1; i >= 0; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := len(digits)
		for digits[n-1] == '0' {
			n--
		}
		dst = append(dst, '.')
		dst = append(dst, digits[:n]...)
	}
	return append(dst, '"')
}

// appendAnthropicModel appends m as an Anthropic Models API object. The
// gateway knows no release dates: created_at is the Unix epoch.
func appendAnthropicModel(dst []byte, m router.ModelInfo) []byte {
	dst = append(dst, `{"type":"model","id":`...)
	dst = canon.AppendString(dst, m.ID)
	dst = canon.AppendStringField(dst, "display_name", m.ID)
	dst = canon.AppendStringField(dst, "created_at", "1970-01-01T00:00:00Z")
	if m.Context > 0 {
		dst = canon.AppendIntField(dst, "max_input_tokens", int64(m.Context))
	}
	if m.MaxOutput > 0 {
		dst = canon.AppendIntField(dst, "max_tokens", int64(m.MaxOutput))
	}
	return append(dst, '}')
}

// appendGeminiModel appends m as a Gemini API Model resource.
func appendGeminiModel(dst []byte, m router.ModelInfo) []byte {
	dst = append(dst, `{"name":`...)
	dst = canon.AppendString(dst, "models/"+m.ID)
	dst = canon.AppendStringField(dst, "baseModelId", m.ID)
	dst = canon.AppendStringField(dst, "displayName", m.ID)
	if m.Context > 0 {
		dst = canon.AppendIntField(dst, "inputTokenLimit", int64(m.Context))
	}
	if m.MaxOutput > 0 {
		dst = canon.AppendIntField(dst, "outputTokenLimit", int64(m.MaxOutput))
	}
	dst = canon.AppendRawField(dst, "supportedGenerationMethods", `["generateContent","streamGenerateContent","countTokens"]`)
	return append(dst, '}')
}

// models serves GET /v1/models (id == "") and GET /v1/models/{id}: in
// Anthropic's shape when the request carries anthropic-version (as
// Anthropic's SDKs and Claude Code send), in Gemini's when it carries a
// Gemini key (x-goog-api-key or ?key=, as the Google Gen AI SDK sends on
// /v1), else in OpenAI's.
func (s *Server) models(ctx *fasthttp.RequestCtx, rt *runtimeState, id string) {
	h := &ctx.Request.Header
	switch {
	case len(h.Peek("anthropic-version")) > 0:
		s.serveModels(ctx, rt, &rt.modelList.anthropic, formatOf(upstream.FormatAnthropic), id)
	case len(h.PeekBytes(headerGoogAPIKey)) > 0 || len(ctx.QueryArgs().Peek("key")) > 0:
		s.geminiModels(ctx, rt, id)
	default:
		s.serveModels(ctx, rt, &rt.modelList.openAI, formatOf(upstream.FormatOpenAI), id)
	}
}

// geminiModels serves GET /v1beta/models (id == "") and GET
// /v1beta/models/{id} in the Gemini API's shape, and /v1/models for a
// Gemini client.
func (s *Server) geminiModels(ctx *fasthttp.RequestCtx, rt *runtimeState, id string) {
	keyFromQuery(&ctx.Request)
	s.serveModels(ctx, rt, &rt.modelList.gemini, formatOf(upstream.FormatGemini), id)
}

// serveModels answers a model-list request from list, its errors in
// format f's shape.
func (s *Server) serveModels(ctx *fasthttp.RequestCtx, rt *runtimeState, list *shapeList, f *wireFormat, id string) {
	if !ctx.IsGet() {
		writeErrorIn(ctx, f, errMethodNotAllowed)
		return
	}
	if _, err := rt.keys.authenticate(&ctx.Request.Header, time.Now()); err != nil {
		writeErrorIn(ctx, f, err)
		return
	}
	list.requests.Inc()
	body := list.all
	if id != "" {
		var ok bool
		if body, ok = list.byID[id]; !ok {
			writeErrorIn(ctx, f, errUnknownModelID)
			return
		}
	}
	ctx.SetContentTypeBytes(contentTypeJSON)
	ctx.SetBody(body)
}
