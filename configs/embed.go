// Package configs holds the gateway's config tree, its loader and validator,
// and the default config embedded in the binary.
package configs

import _ "embed"

// Default is the embedded default config (configs/switchboard.yaml): the
// documented example, used when no -config file is given.
//
//go:embed switchboard.yaml
var Default []byte
