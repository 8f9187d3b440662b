package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Plan is the order in which one request tries targets: the targets of
// its model's route in the order Order gives, then those of each
// fallback model's route (the request's own list, then the route's
// configured fallbacks), each provider and model once. The caller walks
// Targets front to back; nothing in a Plan changes while it does.
//
// A Plan is meant to be reused from request to request (Router.Plan
// resets it); it allocates only while its slices grow.
type Plan struct {
	// Route is the requested model's route: its policy governs retries,
	// time budget and caching of the whole call.
	Route Route
	// Targets are the targets in the order to try them.
	Targets []Target
	// Models holds, for each target, the model name it serves, which a
	// key's model list is checked against.
	Models []string
	// Starts holds the index in Targets where each route's targets
	// begin, ascending, Starts[0] == 0: a failure that says the prompt
	// is too long for a model skips to the next route (NextRoute).
	Starts []int
	// Skipped holds why each of the route's configured fallbacks that
	// could not be resolved was left out (a config that names a model no
	// enabled provider serves); the caller logs them.
	Skipped []error

	fallback Route // a fallback model's route, being added
	order    []Target
}

// FallbackError is a fallback model named by the request that does not
// resolve: the request is wrong (a 400).
type FallbackError struct {
	Model string
	Err   error
}

func (e *FallbackError) Error() string { return fmt.Sprintf("fallback model %q: %v", e.Model, e.Err) }

func (e *FallbackError) Unwrap() error { return e.Err }

// Plan fills p for a request of model with its own fallback models
// (OpenRouter's "models"; the model itself may be among them and is
// skipped) and provider preferences prefs (nil for none), ordering each
// route's targets as Order does at now with rnd (nil for the global
// source).
//
// Errors: model's resolution (ErrUnknownModel, ErrBadModel), the
// preferences leaving model's route no target (ErrBadPrefs), and a
// *FallbackError for a fallback model that does not resolve. A fallback
// whose targets the preferences rule out is skipped, as is a configured
// fallback that does not resolve (recorded in p.Skipped).
func (r *Router) Plan(p *Plan, model string, fallbacks []string, prefs *ProviderPrefs, now time.Time, rnd *rand.Rand) error {
	p.reset()
	if err := r.Resolve(model, &p.Route); err != nil {
		return err
	}
	order, err := r.Order(p.Targets, &p.Route, prefs, now, rnd)
	p.Targets = order
	if err != nil {
		return err
	}
	for range order {
		p.Models = append(p.Models, p.Route.Model)
	}
	p.Starts = append(p.Starts, 0)
	for _, name := range fallbacks {
		if name == model {
			continue // OpenRouter lists the primary model too
		}
		if err := r.addRoute(p, name, prefs, now, rnd); err != nil {
			return &FallbackError{Model: name, Err: err}
		}
	}
	for _, name := range p.Route.Policy.Fallbacks {
		if err := r.addRoute(p, name, prefs, now, rnd); err != nil {
			p.Skipped = append(p.Skipped, &FallbackError{Model: name, Err: err})
		}
	}
	return nil
}

// addRoute resolves model and appends its targets that are not in p yet,
// in the order Order gives, marking where they start.
func (r *Router) addRoute(p *Plan, model string, prefs *ProviderPrefs, now time.Time, rnd *rand.Rand) error {
	if err := r.Resolve(model, &p.fallback); err != nil {
		return err
	}
	order, err := r.Order(p.order, &p.fallback, prefs, now, rnd)
	p.order = order
	if err != nil {
		return nil // the preferences leave this fallback nothing: skip it
	}
	start := len(p.Targets)
	for _, t := range order {
		if !slices.ContainsFunc(p.Targets, func(o Target) bool { return o.Provider == t.Provider && o.Model == t.Model }) {
			p.Targets = append(p.Targets, t)
			p.Models = append(p.Models, p.fallback.Model)
		}
	}
	if len(p.Targets) > start {
		p.Starts = append(p.Starts, start)
	}
	return nil
}

// Keep keeps the targets keep says yes to (given the target and the
// model name it serves), in order, keeping Models and Starts in step,
// and returns how many are left.
func (p *Plan) Keep(keep func(t *Target, model string) bool) int {
	// starts is rewritten over p.Starts and never gets ahead of the
	// reading.
	kept := 0
	starts, next, route, lastRoute := p.Starts[:0], 0, -1, -1
	for i := range p.Targets {
		if next < len(p.Starts) && p.Starts[next] == i {
			route, next = route+1, next+1
		}
		if !keep(&p.Targets[i], p.Models[i]) {
			continue
		}
		if route != lastRoute {
			starts, lastRoute = append(starts, kept), route
		}
		p.Targets[kept], p.Models[kept] = p.Targets[i], p.Models[i]
		kept++
	}
	p.Targets, p.Models, p.Starts = p.Targets[:kept], p.Models[:kept], starts
	return kept
}

// NextRoute returns the index in Targets where the route after the one
// holding index i starts, or len(Targets).
func (p *Plan) NextRoute(i int) int {
	for _, at := range p.Starts {
		if at > i {
			return at
		}
	}
	return len(p.Targets)
}

// reset empties p, keeping its slices' memory.
func (p *Plan) reset() {
	p.Route, p.fallback = Route{}, Route{}
	p.Targets, p.Models, p.Starts, p.Skipped = p.Targets[:0], p.Models[:0], p.Starts[:0], p.Skipped[:0]
	p.order = p.order[:0]
}

// Release empties p and drops slices that grew past maxTargets, so that
// a pooled Plan does not keep an unusual request's memory.
func (p *Plan) Release() {
	p.reset()
	const maxTargets = 64
	if cap(p.Targets) > maxTargets {
		p.Targets, p.Models, p.Starts = nil, nil, nil
	}
	if cap(p.order) > maxTargets {
		p.order = nil
	}
	p.Skipped = nil
}
