package configs

import _ "embed"

// Catalog is the embedded model catalog (configs/catalog.yaml): each
// provider's models with context window, max output, modalities and list
// prices per million tokens. router.LoadCatalog parses it; config price
// overrides apply on top.
//
//go:embed catalog.yaml
var Catalog []byte
