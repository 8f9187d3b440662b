package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/bytedance/sonic/ast"
	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/router"
	"switchboard/store"
	"switchboard/store/money"
	"switchboard/upstream"
	"switchboard/upstream/canon"
)

// billing meters the request path: a key's model list, rate limits and
// budgets, the reservation of a request's worst-case cost before it is
// forwarded, and its ledger entry after the last byte.
type billing struct {
	disabled         bool
	store            store.Backend
	freeUnpriced     bool
	defaultMaxOutput int64
}

func newBilling(cfg *configs.Config, st store.Backend) *billing {
	return &billing{
		disabled:         cfg.Billing.Disabled,
		store:            st,
		freeUnpriced:     cfg.Billing.Unpriced == "free",
		defaultMaxOutput: int64(cfg.Billing.DefaultMaxOutput),
	}
}

var (
	errBudget        = errors.New("budget reached")
	errNoCredit      = errors.New("insufficient credit")
	errUnpricedModel = errors.New("this model has no price in the catalog, so a metered key may not call it; the operator can add one under billing.prices")
)

// rateLimitError is a request refused by its key's RPM or TPM limit (429).
type rateLimitError struct{ st limitState }

func (e *rateLimitError) Error() string {
	what := "requests"
	if e.st.limitTokens > 0 && e.st.remainingTokens == 0 {
		what = "tokens"
	}
	return fmt.Sprintf("rate limit reached for %s on this gateway key; retry after %s", what, e.st.retryAfter.Round(time.Millisecond))
}

// admit decides whether the call's key may make it, after its targets are
// ordered: it keeps the targets the key may call (its model list; a
// metered key needs a catalog price), checks its rate limits and its
// daily and monthly budgets, and reserves on its account the worst case
// of the dearest target left. It leaves the reservation in c.resv. With
// billing disabled it only checks the model list and rate limits.
func (b *billing) admit(c *call, body []byte) error {
	if err := b.admitKey(c); err != nil || b.disabled {
		return err
	}
	k := c.key
	if k.dailyLimit > 0 {
		if spent := b.store.Spend(k.ID, c.start); spent >= k.dailyLimit {
			return fmt.Errorf("%w: this key spent %s of its %s daily limit", errBudget, spent, k.dailyLimit)
		}
	}
	if k.monthlyLimit > 0 {
		y, m, _ := c.start.UTC().Date()
		month := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		if spent := b.store.Spend(k.ID, month); spent >= k.monthlyLimit {
			return fmt.Errorf("%w: this key spent %s of its %s monthly limit", errBudget, spent, k.monthlyLimit)
		}
	}

	var worst money.Money
	requested := int64(-1) // max_tokens, read once if a target has a price
	for _, t := range c.plan.Targets {
		if m := t.Entry; m != nil {
			if requested < 0 {
				requested = maxTokens(body, &c.fields.node)
			}
			worst = max(worst, m.Price.Worst(b.promptTokens(m, body), b.outputTokens(c.surface, m, requested)))
		}
	}
	r, err := b.store.Reserve(k.Account, k.ID, string(c.requestID), worst, c.start)
	if errors.Is(err, store.ErrInsufficientCredit) {
		avail, _ := b.store.Available(k.Account, c.start)
		return fmt.Errorf("%w: this request may cost up to %s and the account has %s available; top up, or lower max_tokens", errNoCredit, worst, max(avail, 0))
	}
	if err != nil {
		return err
	}
	c.resv = r
	return nil
}

// admitKey keeps the targets the call's key may call (its model list; a
// metered key needs a catalog price) and checks its rate limits.
func (b *billing) admitKey(c *call) error {
	k := c.key
	needPrice := !k.Operator && !b.freeUnpriced && !b.disabled
	unpriced := false
	kept := c.plan.Keep(func(t *router.Target, model string) bool {
		switch {
		case !k.allows(model, t.Provider.Name, t.Model):
			return false
		case t.Entry == nil && needPrice:
			unpriced = true
			return false
		}
		return true
	})
	switch {
	case kept > 0:
		c.target = c.plan.Targets[0]
	case unpriced:
		return errUnpricedModel
	default:
		return fmt.Errorf("%w: %q", errModelNotAllowed, c.plan.Route.Model)
	}
	if k.limits != nil {
		st, ok, err := k.limits.admit(c.start)
		c.limits, c.hasLimits = st, true
		switch {
		case err != nil:
			return err
		case !ok:
			return &rateLimitError{st}
		}
	}
	return nil
}

// admitFree admits a call the response cache answers: the key's model
// list and rate limits as for any call, no budget or credit check, and a
// $0 reservation, so that the hit gets its ledger entry.
func (b *billing) admitFree(c *call) error {
	if err := b.admitKey(c); err != nil || b.disabled {
		return err
	}
	r, err := b.store.Reserve(c.key.Account, c.key.ID, string(c.requestID), 0, c.start)
	if err != nil {
		return err
	}
	c.resv = r
	return nil
}

// promptTokens estimates the prompt from the body's size, at most the
// model's context window.
func (b *billing) promptTokens(m *router.Model, body []byte) int64 {
	n := router.EstimateTokens(len(body))
	if m.Context > 0 {
		n = min(n, int64(m.Context))
	}
	return n
}

// outputTokens is the output budget of a call to m: requested (the
// request's max_completion_tokens or max_tokens; 0 if none) up to the
// model's maximum, else that maximum, else the configured default.
// Embeddings produce none.
func (b *billing) outputTokens(sf *surface, m *router.Model, requested int64) int64 {
	if sf == surfaceEmbeddings {
		return 0
	}
	limit := int64(m.MaxOutput)
	if limit == 0 {
		limit = b.defaultMaxOutput
	}
	if requested > 0 && requested < limit {
		return requested
	}
	return limit
}

var (
	maxFieldPrefix     = []byte(`"max_`)
	maxOutputTokensKey = []byte(`"maxOutputTokens"`)
)

// maxTokens reads the output limit a body asks for, or 0:
// max_completion_tokens, max_tokens, max_output_tokens (Responses) or
// generationConfig.maxOutputTokens (Gemini). A byte search spares bodies
// without one a lazy JSON search.
func maxTokens(body []byte, n *ast.Node) int64 {
	src := unsafe.String(unsafe.SliceData(body), len(body))
	if bytes.Contains(body, maxOutputTokensKey) {
		return canon.IntAt(src, n, "generationConfig", "maxOutputTokens")
	}
	if !bytes.Contains(body, maxFieldPrefix) {
		return 0
	}
	for _, field := range [...]string{"max_completion_tokens", "max_tokens", "max_output_tokens"} {
		if v := canon.IntAt(src, n, field); v > 0 {
			return v
		}
	}
	return 0
}

// settle ends the call's reservation after its last byte: a ledger entry
// at the real cost when the provider may have served it, a release when
// it surely did not.
func (b *billing) settle(c *call, now time.Time) {
	r := c.resv
	if r == nil {
		return
	}
	c.resv = nil
	if !c.reached {
		if err := b.store.Release(r); err != nil {
			c.srv.errLog.Printf("release %s: %v", r.RequestID, err)
		}
		return
	}
	// A stream is billed even when it failed midway, and a call whose
	// client went away while the provider worked: the provider billed it.
	if billable := c.status == fasthttp.StatusOK || c.streaming || c.canceled; billable {
		if !c.reported {
			c.estimateUsage()
		}
		if !c.costed {
			c.computeCost()
		}
	}
	e := store.Entry{
		KeyID:            c.key.ID,
		ModelRequested:   strings.Clone(c.fields.model),
		Provider:         c.provider(),
		UpstreamModel:    strings.Clone(c.target.Model),
		InputTokens:      c.usage.Input,
		OutputTokens:     c.usage.Output,
		CacheReadTokens:  c.usage.CacheRead,
		CacheWriteTokens: c.usage.CacheWrite,
		ReasoningTokens:  c.usage.Reasoning,
		CostInput:        c.cost.Input,
		CostOutput:       c.cost.Output,
		CostCacheRead:    c.cost.CacheRead,
		CostCacheWrite:   c.cost.CacheWrite,
		Cost:             c.cost.Total,
		LatencyMicros:    now.Sub(c.start).Microseconds(),
		OverheadMicros:   c.overhead(now).Microseconds(),
		Status:           c.status,
	}
	if c.estimated {
		e.Settled = store.SettledEstimate
	}
	e.CacheHit = c.cache.hit
	e.CompressedTokens = c.compression.saved
	e.Attempts = c.attempts
	if len(c.trail) > 0 {
		e.FallbackReason = string(c.trail)
	}
	e.User, e.Session, e.Tags = c.attribution()
	e.HedgeWasteTokens, e.HedgeWasteCost = c.waste.tokens, c.waste.cost
	if err := b.store.Settle(r, e); err != nil {
		// The reservation stays open: the next start settles it at its
		// worst case, so the request is billed, never lost.
		c.srv.errLog.Printf("settle %s: %v", r.RequestID, err)
		return
	}
	c.srv.spend.record(&e, c.plan.Route.Model)
}

// computeCost prices the call's usage at the catalog price: prompt tokens
// read from the provider's cache are free.
func (c *call) computeCost() {
	c.cost = c.price.Cost(c.usage)
	c.costed = true
}

// estimateUsage stands in for usage a provider did not report (a stream
// the client cut short, a host that omits it): the prompt estimated from
// the body's size unless the stream's first events already counted it
// (Anthropic's message_start, Gemini's chunks), and the output produced
// until then: the provider's count so far or one token per relayed
// stream event, whichever is more; three bytes a token of a buffered
// answer; none when the client left before any answer came. The entry is
// marked estimated.
func (c *call) estimateUsage() {
	u := &c.usage
	if u.Prompt() == 0 {
		u.Input = router.EstimateTokens(len(c.ctx.PostBody()))
	}
	switch {
	case c.streaming:
		u.Output = max(u.Output, c.relay.events)
	case c.canceled:
		u.Output = 0 // nothing came back
	default:
		u.Output = router.EstimateTokens(len(c.ctx.Response.Body()))
	}
	c.estimated = true
}

// reachedProvider reports whether a failed call may have been served
// upstream, so that it must be settled rather than released.
func reachedProvider(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && !ue.Unsent()
}

// setLimitHeaders sets the x-ratelimit-* headers (and retry-after on a
// refusal) for a key with limits, in OpenAI's names and formats.
func (c *call) setLimitHeaders() {
	if !c.hasLimits {
		return
	}
	h := &c.ctx.Response.Header
	st := &c.limits
	if st.limitRequests > 0 {
		c.setIntHeader("x-ratelimit-limit-requests", st.limitRequests)
		c.setIntHeader("x-ratelimit-remaining-requests", st.remainingRequests)
		h.Set("x-ratelimit-reset-requests", formatReset(st.resetRequests))
	}
	if st.limitTokens > 0 {
		c.setIntHeader("x-ratelimit-limit-tokens", st.limitTokens)
		c.setIntHeader("x-ratelimit-remaining-tokens", st.remainingTokens)
		h.Set("x-ratelimit-reset-tokens", formatReset(st.resetTokens))
	}
	if st.retryAfter > 0 {
		secs := int64((st.retryAfter + time.Second - 1) / time.Second)
		c.setIntHeader("retry-after", secs)
		c.setIntHeader("retry-after-ms", st.retryAfter.Milliseconds())
	}
}

// formatReset formats a reset time as OpenAI does: "1s", "6m0s", "20ms".
func formatReset(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return d.Round(time.Second).String()
}
