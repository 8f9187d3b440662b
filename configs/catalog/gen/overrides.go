package main

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"switchboard/configs"
)

// overrides is configs/catalog/overrides.yaml.
type overrides struct {
	// Sources are the pinned tables, by name.
	Sources []source `yaml:"sources"`
	// Providers are the catalog's providers in catalog order.
	Providers []providerOverride `yaml:"providers"`
}

// source is one pinned table.
type source struct {
	Name    string `yaml:"name"`
	Title   string `yaml:"title"`
	Version string `yaml:"version"`
	Date    string `yaml:"date"`
	License string `yaml:"license"`
	Path    string `yaml:"path"`
}

type providerOverride struct {
	Name string `yaml:"name"`
	// From is "genai-prices/PROVIDER" or "hand-2025".
	From string `yaml:"from"`
	// Exclude drops source models whose id matches one of these patterns
	// (Google's table also prices Claude on Vertex).
	Exclude []string `yaml:"exclude"`
	// Defaults fill max_output, modalities and context by pattern, for
	// models no source gives them; the first matching default wins.
	Defaults []modelOverride `yaml:"defaults"`
	// Models change (by id), drop or add models.
	Models []modelOverride `yaml:"models"`
}

// modelOverride is one hand entry. Cite, the source and its date, is
// required.
type modelOverride struct {
	ID    string `yaml:"id"`
	Match string `yaml:"match"`
	Cite  string `yaml:"cite"`
	Drop  bool   `yaml:"drop"`

	Context    *int     `yaml:"context"`
	MaxOutput  *int     `yaml:"max_output"`
	Modalities []string `yaml:"modalities"`
	Retired    string   `yaml:"retired"`
	AliasOf    string   `yaml:"alias_of"`

	Input        *string `yaml:"input"`
	Output       *string `yaml:"output"`
	CacheRead    *string `yaml:"cache_read"`
	CacheWrite   *string `yaml:"cache_write"`
	CacheWrite1h *string `yaml:"cache_write_1h"`
	Reasoning    *string `yaml:"reasoning"`

	Long     *longRates `yaml:"long"`
	Flex     *rates     `yaml:"flex"`
	Priority *rates     `yaml:"priority"`
	Batch    *rates     `yaml:"batch"`
}

func loadOverrides(path string) (*overrides, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var ov overrides
	if err := dec.Decode(&ov); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	for i, p := range ov.Providers {
		at := fmt.Sprintf("%s: providers[%d] (%s)", path, i, p.Name)
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: defined twice", at)
		}
		seen[p.Name] = true
		for j, m := range append(append([]modelOverride{}, p.Defaults...), p.Models...) {
			if m.Cite == "" {
				return nil, fmt.Errorf("%s: entry %d (%s%s): want cite, the source and its date", at, j, m.ID, m.Match)
			}
		}
		for _, d := range p.Defaults {
			if _, err := configs.ParseModelPattern(d.Match); err != nil || d.ID != "" {
				return nil, fmt.Errorf("%s: default %q: want match, a model pattern, and no id", at, d.Match)
			}
		}
		for _, m := range p.Models {
			if m.ID == "" || m.Match != "" {
				return nil, fmt.Errorf("%s: model entry %+v: want an id and no match", at, m)
			}
		}
	}
	return &ov, nil
}

// source returns the pinned source named name.
func (ov *overrides) source(name string) (source, bool) {
	for _, s := range ov.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return source{}, false
}

// matches reports whether id matches the pattern.
func matches(pattern, id string) bool {
	p, err := configs.ParseModelPattern(pattern)
	return err == nil && p.Match(id)
}
