package router

import (
	"fmt"
	"sort"
	"strings"

	"switchboard/configs"
)

// CatalogWithPrices loads a catalog file and applies the config's price
// overrides (keyed by "provider/model") in a stable order.
func CatalogWithPrices(data []byte, prices map[string]configs.PriceOverride) (*Catalog, error) {
	cat, err := LoadCatalog(data)
	if err != nil {
		return nil, err
	}
	targets := make([]string, 0, len(prices))
	for t := range prices {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		prov, id, _ := strings.Cut(t, "/")
		if err := cat.Override(prov, id, PriceOverride(prices[t])); err != nil {
			return nil, fmt.Errorf("billing.prices[%s]: %w", t, err)
		}
	}
	return cat, nil
}
