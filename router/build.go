package router

import (
	"switchboard/configs"
	"switchboard/upstream"
)

// Build builds the Router of a loaded config: its providers, the catalog
// file catalog (configs.Catalog, or a test's) with the config's
// billing.prices, its aliases and routes. The gateway builds one at
// start and one on every config reload.
//
// prev is the Router being replaced, or nil. A provider whose config did
// not change is prev's own *upstream.Provider, so its pooled keep-alive
// connections and TLS sessions serve the new Router's calls too, and the
// targets on it keep their Health (see Options.Previous). A provider that
// changed gets a new pool; prev's stays with prev, for the calls that
// started on it, and its idle connections close on their idle timeout.
func Build(cfg *configs.Config, catalog []byte, prev *Router) (*Router, error) {
	providers := make([]*upstream.Provider, 0, len(cfg.Providers))
	for _, pc := range cfg.Providers {
		if prev != nil {
			if p := prev.providers[pc.Name]; p != nil && p.Serves(pc) {
				providers = append(providers, p)
				continue
			}
		}
		p, err := upstream.New(pc)
		if err != nil {
			return nil, err
		}
		providers = append(providers, p)
	}
	cat, err := CatalogWithPrices(catalog, cfg.Billing.Prices)
	if err != nil {
		return nil, err
	}
	return New(providers, cfg.Aliases, cfg.Routes, Options{Catalog: cat, Previous: prev})
}
