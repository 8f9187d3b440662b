// Command gen generates the gateway's model catalog, configs/catalog.yaml,
// from the pinned price tables under configs/catalog/sources and the hand
// entries of configs/catalog/overrides.yaml, and rewrites the catalog
// table of README.md (the block between its catalog markers). `make
// catalog` runs it from the repository root; gen_test.go checks that the
// committed files are what it generates.
//
// What comes from where, for each provider of overrides.yaml:
//
//   - from: genai-prices/ID: the models of that provider in the pinned
//     @pydantic/genai-prices table: ids, prices (long-prompt tiers,
//     1-hour cache writes, reasoning prices included), context windows,
//     deprecation; each id it matches by equality (a dated snapshot, a
//     -latest name) becomes an alias priced as its model. Prices are those
//     in force at the table's date (a start_date constraint after it is
//     left for a later table); where a price depends on the time of day
//     (DeepSeek's peak hours) the dearest window is taken, so a call is
//     never billed below the provider's price.
//   - from: hand-2025: the provider's entries of the late-2025 hand
//     catalog, as they were.
//   - max_output, modalities and a missing context come from the hand
//     catalog's entry of the same id (or the first the table prices as
//     that model), else from the provider's pattern defaults in
//     overrides.yaml.
//   - Then each hand entry of overrides.yaml (with its cite) changes,
//     drops or adds a model.
//
// A model with neither an input price nor a context window from any
// source is left out, and counted in the README table.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	cat, readme, err := generateFiles(*root)
	if err != nil {
		log.Fatal(err)
	}
	for path, data := range map[string][]byte{catalogPath: cat, readmePath: readme} {
		full := filepath.Join(*root, path)
		if old, err := os.ReadFile(full); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Println("wrote", path)
	}
}

// The files gen reads and writes, relative to the repository root.
const (
	catalogPath   = "configs/catalog.yaml"
	overridesPath = "configs/catalog/overrides.yaml"
	readmePath    = "README.md"
)

// generateFiles returns the catalog and the README with its catalog
// table, as generated from the sources under root.
func generateFiles(root string) (catalog, readme []byte, err error) {
	ov, err := loadOverrides(filepath.Join(root, overridesPath))
	if err != nil {
		return nil, nil, err
	}
	srcs, err := loadSources(root, ov)
	if err != nil {
		return nil, nil, err
	}
	provs, stats, err := build(ov, srcs)
	if err != nil {
		return nil, nil, err
	}
	catalog = writeCatalog(ov, provs)
	if err := validate(catalog); err != nil {
		return nil, nil, err
	}
	old, err := os.ReadFile(filepath.Join(root, readmePath))
	if err != nil {
		return nil, nil, err
	}
	readme, err = replaceBlock(old, coverageTable(ov, provs, stats))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", readmePath, err)
	}
	return catalog, readme, nil
}
