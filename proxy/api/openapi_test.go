package api

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// schema is the part of an OpenAPI schema object the test reads.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 any                `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Items                *schema            `json:"items"`
	OneOf                []*schema          `json:"oneOf"`
	AllOf                []*schema          `json:"allOf"`
}

// objectSchema is a schema with its $ref, allOf and a oneOf with null
// resolved: the properties, required names and strictness of an
// object, and whether null is allowed.
type objectSchema struct {
	props    map[string]*schema
	required []string
	strict   bool // additionalProperties: false
	nullable bool
	items    *schema
}

func resolveSchema(t *testing.T, all map[string]*schema, s *schema) objectSchema {
	t.Helper()
	if s.Ref != "" {
		name, _ := strings.CutPrefix(s.Ref, "#/components/schemas/")
		ref := all[name]
		if ref == nil {
			t.Fatalf("$ref %s: no such schema", s.Ref)
		}
		return resolveSchema(t, all, ref)
	}
	var out objectSchema
	if len(s.OneOf) > 0 {
		var rest []*schema
		for _, alt := range s.OneOf {
			if alt.Type == "null" {
				out.nullable = true
			} else {
				rest = append(rest, alt)
			}
		}
		if len(rest) == 1 {
			inner := resolveSchema(t, all, rest[0])
			inner.nullable = inner.nullable || out.nullable
			return inner
		}
		return out // a choice of scalars, such as an amount
	}
	out.props = map[string]*schema{}
	for _, part := range s.AllOf {
		p := resolveSchema(t, all, part)
		for k, v := range p.props {
			out.props[k] = v
		}
		out.required = append(out.required, p.required...)
		out.strict = out.strict || p.strict
	}
	for k, v := range s.Properties {
		out.props[k] = v
	}
	out.required = append(out.required, s.Required...)
	out.strict = out.strict || s.AdditionalProperties != nil && !*s.AdditionalProperties
	out.items = s.Items
	return out
}

// goField is a field of a Go struct as JSON sees it.
type goField struct {
	name      string
	typ       reflect.Type
	omitempty bool
}

// jsonFields returns the JSON fields of struct t, embedded structs'
// flattened in, as encoding/json and sonic read them.
func jsonFields(t reflect.Type) []goField {
	var out []goField
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("json")
		if f.Anonymous && !ok && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, goField{name, f.Type, strings.Contains(opts, "omitempty")})
	}
	return out
}

// optElem returns T for a field of type opt[T].
func optElem(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "opt[") {
		f, _ := t.FieldByName("V")
		return f.Type, true
	}
	return nil, false
}

// checkSchema holds the OpenAPI schema s to Go type t: the same property
// names as the json tags; in an answer, required exactly the fields
// without omitempty and null allowed only where Go can encode it; in a
// request, additionalProperties false (the API decodes strictly),
// required names that are fields, and null allowed exactly for the
// opt fields. It recurses into struct fields.
func checkSchema(t *testing.T, all map[string]*schema, at string, s objectSchema, typ reflect.Type, request bool) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
		if s.items != nil {
			s = resolveSchema(t, all, s.items)
		}
	}
	if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() {
		return
	}
	fields := jsonFields(typ)
	var names []string
	for _, f := range fields {
		names = append(names, f.name)
		ps, ok := s.props[f.name]
		if !ok {
			t.Errorf("%s: %s has json field %q, which the schema does not have", at, typ, f.name)
			continue
		}
		p := resolveSchema(t, all, ps)
		ft := f.typ
		if request {
			elem, isOpt := optElem(ft)
			if isOpt != p.nullable {
				t.Errorf("%s.%s: the schema allows null = %v, but the field is opt (absent/null/value) = %v", at, f.name, p.nullable, isOpt)
			}
			if isOpt {
				ft = elem
			}
		} else {
			required := slices.Contains(s.required, f.name)
			if required == f.omitempty {
				t.Errorf("%s.%s: required = %v in the schema, omitempty = %v in %s", at, f.name, required, f.omitempty, typ)
			}
			canNull := ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map
			if p.nullable && !canNull {
				t.Errorf("%s.%s: the schema allows null, but %s never encodes it", at, f.name, ft)
			}
			if ft.Kind() == reflect.Pointer && !p.nullable {
				t.Errorf("%s.%s: %s encodes null, which the schema does not allow", at, f.name, ft)
			}
		}
		checkSchema(t, all, at+"."+f.name, p, ft, request)
	}
	for name := range s.props {
		if !slices.Contains(names, name) {
			t.Errorf("%s: the schema has property %q, which %s has no json field for", at, name, typ)
		}
	}
	for _, name := range s.required {
		if !slices.Contains(names, name) {
			t.Errorf("%s: the schema requires %q, which %s has no json field for", at, name, typ)
		}
	}
	if request && !s.strict {
		t.Errorf("%s: want additionalProperties: false, as the API refuses unknown fields", at)
	}
}

var schemaRef = regexp.MustCompile(`"\$ref": *"#/components/schemas/([^"]*)"`)

// TestOpenAPISchemasMatchTypes holds the schemas of openapi.json's
// request and answer bodies of this package to the Go types its handlers
// decode and encode.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	b, err := os.ReadFile("../openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	all := doc.Components.Schemas
	var components struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &components); err != nil {
		t.Fatal(err)
	}
	raw := components.Components.Schemas
	answers := map[string]reflect.Type{
		"Key":           reflect.TypeFor[keyJSON](),
		"CreatedKey":    reflect.TypeFor[createdKeyJSON](),
		"Account":       reflect.TypeFor[accountJSON](),
		"Plan":          reflect.TypeFor[planJSON](),
		"Entry":         reflect.TypeFor[entryJSON](),
		"EntryPage":     reflect.TypeFor[entryPageJSON](),
		"Credits":       reflect.TypeFor[creditsJSON](),
		"KeyInfo":       reflect.TypeFor[keyInfoJSON](),
		"CreditSummary": reflect.TypeFor[creditSummaryJSON](),
		"UsageList":     reflect.TypeFor[usageListJSON](),
		"UsageRow":      reflect.TypeFor[usageRowJSON](),
		"RequestPage":   reflect.TypeFor[requestPageJSON](),
		"AuditPage":     reflect.TypeFor[auditPageJSON](),
		"AuditEntry":    reflect.TypeFor[auditEntryJSON](),
	}
	requests := map[string]reflect.Type{
		"KeyFields":     reflect.TypeFor[keyFields](),
		"CreateKey":     reflect.TypeFor[createKeyBody](),
		"CreateAccount": reflect.TypeFor[createAccountBody](),
		"TopUp":         reflect.TypeFor[topUpBody](),
		"SetCredits":    reflect.TypeFor[setCreditsBody](),
		"SetPlan":       reflect.TypeFor[setPlanBody](),
	}
	// Every schema the API's paths use, directly or through another, is
	// checked; but Error, which package proxy writes.
	var used []string
	var walk func(json.RawMessage)
	walk = func(v json.RawMessage) {
		for _, m := range schemaRef.FindAllSubmatch(v, -1) {
			if name := string(m[1]); !slices.Contains(used, name) {
				used = append(used, name)
				walk(raw[name])
			}
		}
	}
	for _, r := range Routes() {
		walk(doc.Paths[r.Path])
	}
	if len(used) < len(answers)+len(requests) {
		t.Fatalf("the API's paths use only %d schemas: %v", len(used), used)
	}
	for _, name := range used {
		if answers[name] == nil && requests[name] == nil && name != "Error" {
			t.Errorf("schema %s: no Go type to check it against; add it to this test", name)
		}
	}
	for name, typ := range answers {
		s, ok := all[name]
		if !ok {
			t.Errorf("openapi.json has no schema %s for %s", name, typ)
			continue
		}
		checkSchema(t, all, name, resolveSchema(t, all, s), typ, false)
	}
	for name, typ := range requests {
		s, ok := all[name]
		if !ok {
			t.Errorf("openapi.json has no schema %s for %s", name, typ)
			continue
		}
		checkSchema(t, all, name, resolveSchema(t, all, s), typ, true)
	}
}
