package compress

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseStages(t *testing.T) {
	f := func(in string, want Stages) {
		t.Helper()
		got, err := ParseStages(in)
		if err != nil || got != want {
			t.Errorf("ParseStages(%q) = %s, %v; want %s", in, got, err, want)
		}
		if back, err := ParseStages(got.String()); err != nil || back != got {
			t.Errorf("%s does not round-trip: %s, %v", got, back, err)
		}
	}
	f("on", All)
	f("all", All)
	f("off", 0)
	f("", 0)
	f("lossless", Lossless)
	f("lossy", Lossy)
	f("dedupe", 1<<Dedupe)
	f("Dedupe, middle-out", 1<<Dedupe|1<<MiddleOut)
	f("lossless,middle_out", Lossless|1<<MiddleOut)
	f("minify,whitespace,truncate", 1<<Minify|1<<Whitespace|1<<Truncate)
	if _, err := ParseStages("dedupe,zip"); err == nil || !strings.Contains(err.Error(), `"zip"`) {
		t.Errorf("unknown stage: err %v", err)
	}
	if got := All.String(); got != "dedupe,minify,whitespace,truncate,middle-out" {
		t.Errorf("All.String() = %q", got)
	}
	if got := Stages(0).String(); got != "off" {
		t.Errorf("empty set prints %q", got)
	}
}

func TestParseHeader(t *testing.T) {
	base := Options{Stages: Lossless, Budget: 1000, KeepLast: 3}
	o, err := ParseHeader("off", base)
	if err != nil || o.Stages != 0 || o.Budget != 1000 || o.KeepLast != 3 {
		t.Errorf("off: %+v, %v", o, err)
	}
	if o, err = ParseHeader("dedupe,middle-out", base); err != nil || o.Stages != 1<<Dedupe|1<<MiddleOut {
		t.Errorf("list: %+v, %v", o, err)
	}
	if _, err = ParseHeader("maybe", base); err == nil || !strings.Contains(err.Error(), HeaderName) {
		t.Errorf("bad value: %v", err)
	}
}

func TestParseBody(t *testing.T) {
	base := Options{Stages: 1 << Dedupe, Budget: 5000, HeadLines: 10}
	f := func(in string, want Options) {
		t.Helper()
		got, err := ParseBody([]byte(in), base)
		if err != nil || got != want {
			t.Errorf("ParseBody(%s) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	f(`true`, Options{Stages: All, Budget: 5000, HeadLines: 10})
	f(`false`, Options{Budget: 5000, HeadLines: 10})
	f(`"lossless"`, Options{Stages: Lossless, Budget: 5000, HeadLines: 10})
	f(`["minify", "truncate"]`, Options{Stages: 1<<Minify | 1<<Truncate, Budget: 5000, HeadLines: 10})
	f(`{"budget": 100000, "keep_last": 4}`, Options{Stages: 1 << Dedupe, Budget: 100000, KeepLast: 4, HeadLines: 10})
	f(`{"stages": ["lossless", "middle-out"], "head_lines": 20, "tail_lines": 30, "min_dedupe_bytes": 512}`,
		Options{Stages: Lossless | 1<<MiddleOut, Budget: 5000, HeadLines: 20, TailLines: 30, MinDedupe: 512})
	f(`{"enabled": false, "stages": "all"}`, Options{Budget: 5000, HeadLines: 10})
	f(`{"enabled": true}`, Options{Stages: 1 << Dedupe, Budget: 5000, HeadLines: 10})
	got, err := ParseBody([]byte(`{"enabled": true}`), Options{})
	if err != nil || got.Stages != All {
		t.Errorf("enabled without stages on an empty base: %+v, %v", got, err)
	}
	for _, bad := range []string{`{"budget": -1}`, `{"stages": ["zip"]}`, `{"budget": "lots"}`, `42`, `{`, `{"keep_last": -2, "head_lines": -1}`} {
		if o, err := ParseBody([]byte(bad), base); err == nil || o != base {
			t.Errorf("ParseBody(%s) = %+v, %v; want an error and base", bad, o, err)
		}
	}
	_, err = ParseBody([]byte(`{"keep_last": -2, "head_lines": -1}`), base)
	if err == nil || !strings.Contains(err.Error(), "keep_last") || !strings.Contains(err.Error(), "head_lines") {
		t.Errorf("every bad field should be named: %v", err)
	}
}

func TestWithTransforms(t *testing.T) {
	base := Options{Stages: Lossless}
	if o := WithTransforms(base, []string{"middle-out"}); o.Stages != Lossless|1<<MiddleOut {
		t.Errorf("middle-out: %s", o.Stages)
	}
	if o := WithTransforms(Options{Stages: All}, []string{}); o.Stages != All&^(1<<MiddleOut) {
		t.Errorf("empty list: %s", o.Stages)
	}
	if o := WithTransforms(Options{}, []string{"something-else", "middle-out"}); o.Stages != 1<<MiddleOut || o.Budget != 0 {
		t.Errorf("OpenRouter form alone: %+v", o)
	}
}

func TestOptionsFromYAML(t *testing.T) {
	var cfg struct {
		Compression Options `yaml:"compression"`
	}
	f := func(doc string, want Stages) {
		t.Helper()
		cfg.Compression = Options{}
		if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil || cfg.Compression.Stages != want {
			t.Errorf("%s: %+v, %v; want stages %s", doc, cfg.Compression, err, want)
		}
	}
	f("compression: {stages: [lossless, middle-out], budget: 90000}", Lossless|1<<MiddleOut)
	f("compression: {stages: on}", All)
	f("compression: {stages: true}", All)
	f("compression: {stages: 'dedupe,minify'}", 1<<Dedupe|1<<Minify)
	if err := yaml.Unmarshal([]byte("compression: {stages: [zip]}"), &cfg); err == nil {
		t.Error("an unknown stage in YAML was accepted")
	}
	if cfg.Compression.Budget != 0 {
		t.Errorf("budget leaked: %d", cfg.Compression.Budget)
	}
}

func TestEnsureDefaults(t *testing.T) {
	o := (&Options{KeepLast: 3}).EnsureDefaults()
	if *o != (Options{KeepLast: 3, HeadLines: DefaultHeadLines, TailLines: DefaultTailLines, MinDedupe: DefaultMinDedupe}) {
		t.Errorf("%+v", *o)
	}
}
