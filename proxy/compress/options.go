package compress

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bytedance/sonic"
)

// Stage is one step of compression. Stages run in the order of their
// values; the first three are lossless, the last two lossy.
type Stage uint8

// The stages.
const (
	// Dedupe replaces a tool result or long text sent again with a short
	// pointer to its first copy.
	Dedupe Stage = iota
	// Minify compacts tool results that are valid JSON.
	Minify
	// Whitespace strips trailing spaces and collapses runs of blanks in
	// prose, never inside code fences.
	Whitespace
	// Truncate keeps the head and tail lines of long tool results
	// (lossy, only over budget).
	Truncate
	// MiddleOut drops the oldest middle turns, after the first user turn
	// and before the last ones (lossy, only over budget).
	MiddleOut
	// NumStages is the number of stages.
	NumStages
)

var stageNames = [NumStages]string{"dedupe", "minify", "whitespace", "truncate", "middle-out"}

// String returns the stage's name as the header and body forms spell it.
func (s Stage) String() string {
	if s < NumStages {
		return stageNames[s]
	}
	return "stage(" + strconv.Itoa(int(s)) + ")"
}

// Stages is a set of stages.
type Stages uint8

// Sets of stages with names of their own in the header and body forms.
const (
	Lossless Stages = 1<<Dedupe | 1<<Minify | 1<<Whitespace
	Lossy    Stages = 1<<Truncate | 1<<MiddleOut
	All             = Lossless | Lossy
)

// Has reports whether st is in s.
func (s Stages) Has(st Stage) bool { return s&(1<<st) != 0 }

// With returns s with st added.
func (s Stages) With(st Stage) Stages { return s | 1<<st }

// String lists the stages in order, comma-separated ("dedupe,minify");
// "off" for none.
func (s Stages) String() string {
	if s&All == 0 {
		return "off"
	}
	return string(s.AppendText(nil))
}

// AppendText appends the comma-separated stage names to dst (nothing for
// the empty set), as a response header reports them.
func (s Stages) AppendText(dst []byte) []byte {
	first := true
	for st := Dedupe; st < NumStages; st++ {
		if s.Has(st) {
			if !first {
				dst = append(dst, ',')
			}
			dst = append(dst, stageNames[st]...)
			first = false
		}
	}
	return dst
}

// ParseStages reads a stage list: "on" or "all" (every stage), "off",
// "none" or "" (no stage), "lossless", "lossy", or names and those sets
// joined by commas ("dedupe,whitespace", "lossless,middle-out").
func ParseStages(v string) (Stages, error) {
	var s Stages
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		switch strings.ToLower(name) {
		case "on", "all", "true":
			s |= All
		case "off", "none", "false", "":
		case "lossless":
			s |= Lossless
		case "lossy":
			s |= Lossy
		default:
			st, ok := stageByName(name)
			if !ok {
				return 0, fmt.Errorf("unknown compression stage %q (want on, off, lossless, lossy or a list of %s)", name, strings.Join(stageNames[:], ", "))
			}
			s = s.With(st)
		}
	}
	return s, nil
}

func stageByName(name string) (Stage, bool) {
	name = strings.ToLower(name)
	if name == "middle_out" || name == "middleout" {
		name = "middle-out"
	}
	for st, n := range stageNames {
		if n == name {
			return Stage(st), true
		}
	}
	return 0, false
}

// UnmarshalText reads the ParseStages form.
func (s *Stages) UnmarshalText(b []byte) error {
	v, err := ParseStages(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText writes the String form.
func (s Stages) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalJSON reads a string in the ParseStages form, a list of such
// strings, or a boolean (true is every stage, false none).
func (s *Stages) UnmarshalJSON(b []byte) error {
	var list []string
	switch t := strings.TrimSpace(string(b)); {
	case t == "true":
		*s = All
		return nil
	case t == "false", t == "null":
		*s = 0
		return nil
	case strings.HasPrefix(t, "["):
		if err := sonic.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("compression stages: want a list of names: %w", err)
		}
	default:
		var one string
		if err := sonic.Unmarshal(b, &one); err != nil {
			return fmt.Errorf("compression stages: want a name, a list of names or a boolean, got %s", t)
		}
		list = append(list, one)
	}
	return s.UnmarshalText([]byte(strings.Join(list, ",")))
}

// UnmarshalYAML reads the same forms from YAML: a string, a list or a
// boolean. (This is the unmarshaler interface yaml.v2 defined and yaml.v3
// still honours, so the package needs no YAML import.)
func (s *Stages) UnmarshalYAML(unmarshal func(any) error) error {
	var list []string
	if err := unmarshal(&list); err == nil {
		return s.UnmarshalText([]byte(strings.Join(list, ",")))
	}
	var on bool
	if err := unmarshal(&on); err == nil {
		*s = 0
		if on {
			*s = All
		}
		return nil
	}
	var one string
	if err := unmarshal(&one); err != nil {
		return errors.New("compression stages: want a name, a list of names or a boolean")
	}
	return s.UnmarshalText([]byte(one))
}

// The defaults EnsureDefaults fills in.
const (
	DefaultKeepLast  = 8
	DefaultHeadLines = 50
	DefaultTailLines = 50
	DefaultMinDedupe = 256
)

// Options says which stages run and how far the lossy ones go. The zero
// value compresses nothing. A route or key configures it (YAML keys
// below), a request overrides it with ParseHeader, ParseBody or
// WithTransforms.
type Options struct {
	// Stages are the stages that may run. The lossless ones always run
	// when listed; Truncate and MiddleOut only when the request is still
	// over budget after them. Empty turns compression off.
	Stages Stages `yaml:"stages" json:"stages"`
	// Budget is the most prompt tokens (o200k_base) the lossy stages aim
	// at. 0 means the model's context window minus the request's
	// max_tokens; when both are known the smaller applies. Without either,
	// the lossy stages never run.
	Budget int `yaml:"budget" json:"budget"`
	// KeepLast is how many messages at the end of the conversation
	// middle-out never drops and truncation touches only as a last
	// resort; it grows to keep a tool call with its result. Default 8,
	// at least 1.
	KeepLast int `yaml:"keep_last" json:"keep_last"`
	// HeadLines and TailLines are the lines a truncated tool result
	// keeps at its start and end. Default 50 each, at least 1.
	HeadLines int `yaml:"head_lines" json:"head_lines"`
	TailLines int `yaml:"tail_lines" json:"tail_lines"`
	// MinDedupe is the shortest content, in bytes, that Dedupe replaces
	// with a pointer (a pointer costs about 20 tokens). Default 256.
	MinDedupe int `yaml:"min_dedupe_bytes" json:"min_dedupe_bytes"`
}

// EnsureDefaults fills in the zero fields with the defaults and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.KeepLast <= 0 {
		o.KeepLast = DefaultKeepLast
	}
	if o.HeadLines <= 0 {
		o.HeadLines = DefaultHeadLines
	}
	if o.TailLines <= 0 {
		o.TailLines = DefaultTailLines
	}
	if o.MinDedupe <= 0 {
		o.MinDedupe = DefaultMinDedupe
	}
	return o
}

// Validate reports every out-of-range field, each with its name.
func (o *Options) Validate() error {
	var errs []error
	if o.Stages&^All != 0 {
		errs = append(errs, fmt.Errorf("stages: unknown stage bits %#x", uint8(o.Stages&^All)))
	}
	check := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: want >= 0, got %d", name, v))
		}
	}
	check("budget", o.Budget)
	check("keep_last", o.KeepLast)
	check("head_lines", o.HeadLines)
	check("tail_lines", o.TailLines)
	check("min_dedupe_bytes", o.MinDedupe)
	return errors.Join(errs...)
}

// HeaderName is the request header that overrides the configured stages.
const HeaderName = "x-switchboard-compression"

// ParseHeader applies an x-switchboard-compression value to base: "on"
// (every stage), "off", "lossless", "lossy" or a comma-separated list of
// stage names, replacing base's stages. The other options stay base's.
func ParseHeader(v string, base Options) (Options, error) {
	s, err := ParseStages(v)
	if err != nil {
		return base, fmt.Errorf("%s: %w", HeaderName, err)
	}
	base.Stages = s
	return base, nil
}

// bodyOptions is the body's "compression" object; nil fields were absent.
type bodyOptions struct {
	Enabled   *bool   `json:"enabled"`
	Stages    *Stages `json:"stages"`
	Budget    *int    `json:"budget"`
	KeepLast  *int    `json:"keep_last"`
	HeadLines *int    `json:"head_lines"`
	TailLines *int    `json:"tail_lines"`
	MinDedupe *int    `json:"min_dedupe_bytes"`
}

// ParseBody applies the JSON value of a request body's "compression"
// field to base. It may be a boolean (true: every stage; false: off), a
// string or list in the ParseStages form, or an object:
//
//	{"enabled": true, "stages": ["lossless", "middle-out"], "budget": 100000,
//	 "keep_last": 8, "head_lines": 50, "tail_lines": 50, "min_dedupe_bytes": 256}
//
// where absent fields keep base's values; "enabled": true without
// "stages" turns on every stage if base has none, and "enabled": false
// turns compression off whatever "stages" says.
func ParseBody(raw []byte, base Options) (Options, error) {
	t := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(t, "{") {
		if err := base.Stages.UnmarshalJSON(raw); err != nil {
			return base, fmt.Errorf("compression: %w", err)
		}
		return base, nil
	}
	var b bodyOptions
	if err := sonic.Unmarshal(raw, &b); err != nil {
		return base, fmt.Errorf("compression: want an object of stages, budget, keep_last, head_lines, tail_lines, min_dedupe_bytes: %w", err)
	}
	o := base
	if b.Stages != nil {
		o.Stages = *b.Stages
	}
	if b.Enabled != nil {
		switch {
		case !*b.Enabled:
			o.Stages = 0
		case b.Stages == nil && o.Stages == 0:
			o.Stages = All
		}
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&o.Budget, b.Budget)
	set(&o.KeepLast, b.KeepLast)
	set(&o.HeadLines, b.HeadLines)
	set(&o.TailLines, b.TailLines)
	set(&o.MinDedupe, b.MinDedupe)
	if err := o.Validate(); err != nil {
		return base, fmt.Errorf("compression: %w", err)
	}
	return o, nil
}

// TransformMiddleOut is OpenRouter's transform that fits a prompt into
// the context window by removing messages from its middle.
const TransformMiddleOut = "middle-out"

// WithTransforms applies an OpenRouter "transforms" list to base:
// "middle-out" listed turns on the MiddleOut stage (which, with Budget 0,
// acts only when the prompt would not fit the model's context window,
// as on OpenRouter); a list without it (OpenRouter's `"transforms": []`)
// turns MiddleOut off. The other stages stay base's: OpenRouter has no
// lossless transforms. Unknown names are ignored, as OpenRouter does.
func WithTransforms(base Options, transforms []string) Options {
	base.Stages &^= 1 << MiddleOut
	for _, t := range transforms {
		if t == TransformMiddleOut {
			base.Stages = base.Stages.With(MiddleOut)
		}
	}
	return base
}
