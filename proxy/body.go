package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"

	"switchboard/upstream"
)

// errBadRequest marks a client body the gateway refuses (400).
var errBadRequest = errors.New("bad request")

// errNotJSON marks a body declared as something other than JSON (415),
// for the formats whose API answers so (wireFormat.notJSON).
var errNotJSON = errors.New("unsupported media type")

// checkJSONBody refuses a body whose Content-Type is present and not
// JSON (application/json or a +json type), with an error wrapping
// notJSON, and one that is not valid UTF-8. A missing Content-Type is
// accepted.
func checkJSONBody(contentType, body []byte, notJSON error) error {
	if len(contentType) > 0 && !isJSONMediaType(contentType) {
		return fmt.Errorf("%w: Content-Type %q is not JSON; send the body as application/json", notJSON, truncate(contentType, 64))
	}
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: the body is not valid UTF-8; send JSON text in UTF-8", errBadRequest)
	}
	return nil
}

// isJSONMediaType reports whether a Content-Type value, parameters
// aside, is application/json or ends in +json, in any case.
func isJSONMediaType(v []byte) bool {
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = bytes.TrimRight(v, " \t")
	const app, suffix = "application/json", "+json"
	return len(v) == len(app) && bytes.EqualFold(v, []byte(app)) ||
		len(v) > len(suffix) && bytes.EqualFold(v[len(v)-len(suffix):], []byte(suffix))
}

// truncate is b cut to at most n bytes, for quoting client input.
func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// requestFields are the few top-level fields of a pass-through body the
// gateway reads. They are found with sonic's lazy search, which skips the
// values it does not need and does not copy: strings and spans point into
// the body, so a requestFields is valid only while the body is.
type requestFields struct {
	model     string // decoded model string
	modelSpan span   // the raw model value, quotes included
	stream    bool
	// wantsUsage: the client set stream_options.include_usage itself.
	wantsUsage bool
	// usageEdit splices include_usage=true into a streaming body.
	usageEdit edit
	// present has a bit per extension field the body may hold
	// (presentExtensions).
	present uint16
	// node is search scratch space. Node methods take a pointer that
	// escapes, so a local Node would be a heap allocation per search.
	node ast.Node
}

// span is a byte range of the body.
type span struct{ start, end int }

// edit replaces the body's bytes in at with the text.
type edit struct {
	at   span
	text string
}

const usageOptions = `"stream_options":{"include_usage":true},`

// parseFields reads model, stream and (for an OpenAI-format stream,
// openAIStream) stream_options from a JSON object body. Errors wrap
// errBadRequest and name the field.
func parseFields(body []byte, f *requestFields, openAIStream bool) error {
	*f = requestFields{present: presentExtensions(body)}
	src := unsafe.String(unsafe.SliceData(body), len(body))
	open := skipSpace(body, 0)
	if open >= len(body) || body[open] != '{' {
		return fmt.Errorf("%w: body must be a JSON object", errBadRequest)
	}
	n := &f.node
	var err error
	if *n, err = sonic.GetFromString(src, "model"); err != nil {
		return fieldError("model", err)
	}
	if n.TypeSafe() != ast.V_STRING {
		return fmt.Errorf("%w: model must be a string", errBadRequest)
	}
	if f.modelSpan, err = spanOf(src, n); err != nil {
		return err
	}
	if f.model, err = n.StrictString(); err != nil {
		return fieldError("model", err)
	}
	if err := checkNoSecondModel(body, f.modelSpan.end, n); err != nil {
		return err
	}

	*n, err = sonic.GetFromString(src, "stream")
	switch {
	case errors.Is(err, ast.ErrNotExist):
	case err != nil:
		return fieldError("stream", err)
	default:
		switch n.TypeSafe() {
		case ast.V_TRUE:
			f.stream = true
		case ast.V_FALSE, ast.V_NULL:
		default:
			return fmt.Errorf("%w: stream must be a boolean", errBadRequest)
		}
	}
	if !f.stream || !openAIStream {
		return nil
	}

	// Streaming: make sure the upstream sends usage, and remember whether
	// the client asked for it.
	*n, err = sonic.GetFromString(src, "stream_options")
	switch {
	case errors.Is(err, ast.ErrNotExist):
		f.usageEdit = edit{at: span{open + 1, open + 1}, text: usageOptions}
		return nil
	case err != nil:
		return fieldError("stream_options", err)
	}
	switch n.TypeSafe() {
	case ast.V_NULL:
		at, err := spanOf(src, n)
		if err != nil {
			return err
		}
		f.usageEdit = edit{at: at, text: `{"include_usage":true}`}
		return nil
	case ast.V_OBJECT:
	default:
		return fmt.Errorf("%w: stream_options must be an object", errBadRequest)
	}
	optsAt, err := spanOf(src, n)
	if err != nil {
		return err
	}
	*n, err = sonic.GetFromString(src[optsAt.start:optsAt.end], "include_usage")
	switch {
	case errors.Is(err, ast.ErrNotExist):
		f.usageEdit = edit{at: span{optsAt.start + 1, optsAt.start + 1}, text: `"include_usage":true,`}
		if skipSpace(body, optsAt.start+1) == optsAt.end-1 { // empty object
			f.usageEdit.text = `"include_usage":true`
		}
	case err != nil:
		return fieldError("stream_options.include_usage", err)
	default:
		switch n.TypeSafe() {
		case ast.V_TRUE:
			f.wantsUsage = true
		case ast.V_FALSE, ast.V_NULL:
			at, err := spanOf(src, n)
			if err != nil {
				return err
			}
			f.usageEdit = edit{at: at, text: "true"}
		default:
			return fmt.Errorf("%w: stream_options.include_usage must be a boolean", errBadRequest)
		}
	}
	return nil
}

// parseGeminiFields reads the fields of a Gemini request, whose model and
// streaming are in its URL path (c.path, which the fields then point
// into): the body only has to be a JSON object.
func parseGeminiFields(body, path []byte, sf *surface, f *requestFields) error {
	*f = requestFields{present: presentExtensions(body)}
	if open := skipSpace(body, 0); open >= len(body) || body[open] != '{' {
		return fmt.Errorf("%w: body must be a JSON object", errBadRequest)
	}
	_, model, ok := geminiSurface(unsafe.String(unsafe.SliceData(path), len(path)))
	if !ok || model == "" {
		return fmt.Errorf("%w: the path names no model", errBadRequest)
	}
	f.model = model
	f.stream = sf == surfaceStream
	return nil
}

// maxModelBytes bounds a model name; modelQuoteBytes is how much of a
// longer one an error quotes.
const (
	maxModelBytes   = 256
	modelQuoteBytes = 32
)

// checkModelLength refuses a model name over maxModelBytes, quoting only
// its start: no error echoes a long name.
func checkModelLength(model string) error {
	if len(model) <= maxModelBytes {
		return nil
	}
	prefix := strings.ToValidUTF8(model[:modelQuoteBytes], "")
	return fmt.Errorf("%w: model is %d bytes, at most %d are allowed: %q... is not a model name; GET /v1/models lists them", errBadRequest, len(model), maxModelBytes, prefix)
}

// checkNoSecondModel refuses a body with a second top-level "model" key
// after the one at modelEnd: the gateway would route and bill one model
// while the provider, which takes the last key, serves the other.
func checkNoSecondModel(body []byte, modelEnd int, n *ast.Node) error {
	i := skipSpace(body, modelEnd)
	if i >= len(body) || body[i] != ',' {
		return nil // '}' or trailing garbage, which the search already saw
	}
	// Search the rest of the object as if it were an object of its own:
	// turn the comma into '{' for the length of the search.
	body[i] = '{'
	rest := unsafe.String(&body[i], len(body)-i)
	var err error
	*n, err = sonic.GetFromString(rest, "model")
	body[i] = ','
	switch {
	case err == nil:
		return fmt.Errorf("%w: model is given twice", errBadRequest)
	case errors.Is(err, ast.ErrNotExist):
		return nil
	}
	return fieldError("model", err)
}

// spanOf finds where a node returned by a non-copying search of src lies
// in src.
func spanOf(src string, n *ast.Node) (span, error) {
	raw, err := n.Raw()
	if err != nil {
		return span{}, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	off := int(uintptr(unsafe.Pointer(unsafe.StringData(raw))) - uintptr(unsafe.Pointer(unsafe.StringData(src))))
	if off < 0 || off+len(raw) > len(src) || src[off:off+len(raw)] != raw {
		panic("BUG: sonic returned a value that is not a slice of the searched body")
	}
	return span{off, off + len(raw)}, nil
}

func fieldError(field string, err error) error {
	if errors.Is(err, ast.ErrNotExist) {
		return fmt.Errorf("%w: %s is required", errBadRequest, field)
	}
	return fmt.Errorf("%w: invalid JSON body: %v", errBadRequest, err)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// memberSpan widens the span of a top-level member's value to the bytes
// that removing the member takes out: its key, written exactly as key,
// the colon and one neighbouring comma.
func memberSpan(body []byte, value span, key []byte) (span, error) {
	i := value.start - 1
	for i >= 0 && isSpace(body[i]) {
		i--
	}
	if i < 0 || body[i] != ':' {
		return span{}, fmt.Errorf("%w: cannot find the key of %s", errBadRequest, key)
	}
	i--
	for i >= 0 && isSpace(body[i]) {
		i--
	}
	start := i + 1 - len(key)
	if start < 0 || !bytes.Equal(body[start:i+1], key) {
		return span{}, fmt.Errorf("%w: write the key %s without escapes", errBadRequest, key)
	}
	if j := skipSpace(body, value.end); j < len(body) && body[j] == ',' {
		return span{start, j + 1}, nil // not the last member: take its comma
	}
	k := start - 1
	for k >= 0 && isSpace(body[k]) {
		k--
	}
	if k >= 0 && body[k] == ',' {
		return span{k, value.end}, nil // the last member: take the comma before
	}
	return span{start, value.end}, nil // the only member
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// sortEdits sorts a few edits by position, an insertion before a removal
// that starts where it inserts.
func sortEdits(es []edit) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0; j-- {
			a, b := es[j-1].at, es[j].at
			if a.start < b.start || a.start == b.start && a.end <= b.end {
				break
			}
			es[j-1], es[j] = es[j], es[j-1]
		}
	}
}

// appendEdited appends body with the edits applied to dst. Edits must be
// sorted by position and must not overlap.
func appendEdited(dst, body []byte, edits ...edit) []byte {
	pos := 0
	for _, e := range edits {
		dst = append(dst, body[pos:e.at.start]...)
		dst = append(dst, e.text...)
		pos = e.at.end
	}
	return append(dst, body[pos:]...)
}

// extensionKey names a top-level field of OpenRouter's (and Apertis')
// request extensions, or of the gateway's own, that the gateway acts on
// and removes from what goes upstream, where providers refuse parameters
// they do not know.
type extensionKey uint8

// The extension fields.
const (
	extProvider extensionKey = iota
	extModels
	extFallbackModels
	extCompression
	extTransforms
	extPlugins
	extWebResultsCount
	extWebContentLength
	numExtensions
)

// extensionKeys are their keys as they appear in a body, quotes included.
var extensionKeys = [numExtensions][]byte{
	extProvider:         []byte(`"provider"`),
	extModels:           []byte(`"models"`),
	extFallbackModels:   []byte(`"fallback_models"`),
	extCompression:      []byte(`"compression"`),
	extTransforms:       []byte(`"transforms"`),
	extPlugins:          []byte(`"plugins"`),
	extWebResultsCount:  []byte(`"web_results_count"`),
	extWebContentLength: []byte(`"web_content_length"`),
}

// presentExtensions scans body once for the extension keys: a bit per
// key that occurs as a string somewhere in it (the JSON search that
// follows makes sure it is a top-level member). One pass over the
// quotes costs less than a byte search per key, which JSON's many
// quotes make slow.
func presentExtensions(body []byte) uint16 {
	var set uint16
	for i := 0; i < len(body); {
		j := bytes.IndexByte(body[i:], '"')
		if j < 0 {
			break
		}
		at := body[i+j:]
		i += j + 1
		if len(at) < 2 || !extensionStarts[at[1]] {
			continue
		}
		for k, key := range extensionKeys {
			if bytes.HasPrefix(at, key) {
				set |= 1 << k
			}
		}
	}
	return set
}

// extensionStarts marks the first letters of the extension keys.
var extensionStarts = func() (t [256]bool) {
	for _, key := range extensionKeys {
		t[key[1]] = true
	}
	return t
}()

// extensionField finds the top-level member key (quotes included) of a
// body: the span of its value and the edit that removes the whole member.
// ok is false when there is none; a byte search spares bodies without
// one the lazy JSON search.
func extensionField(body, key []byte, n *ast.Node) (value span, strip edit, ok bool, err error) {
	if !bytes.Contains(body, key) {
		return span{}, edit{}, false, nil
	}
	return findMember(body, key, n)
}

// extension is extensionField for the gateway's own fields, whose
// presence one scan of the body found (requestFields.present).
func (c *call) extension(body []byte, k extensionKey) (value span, strip edit, ok bool, err error) {
	if c.fields.present&(1<<k) == 0 {
		return span{}, edit{}, false, nil
	}
	return findMember(body, extensionKeys[k], &c.fields.node)
}

// findMember is extensionField without its byte search.
func findMember(body, key []byte, n *ast.Node) (value span, strip edit, ok bool, err error) {
	name := unsafe.String(unsafe.SliceData(key[1:]), len(key)-2)
	src := unsafe.String(unsafe.SliceData(body), len(body))
	*n, err = sonic.GetFromString(src, name)
	if errors.Is(err, ast.ErrNotExist) {
		return span{}, edit{}, false, nil
	}
	if err != nil {
		return span{}, edit{}, false, fieldError(name, err)
	}
	if value, err = spanOf(src, n); err != nil {
		return span{}, edit{}, false, err
	}
	member, err := memberSpan(body, value, key)
	if err != nil {
		return span{}, edit{}, false, err
	}
	return value, edit{at: member}, true, nil
}

// numberRule is a range a numeric request field must be in: path is the
// field's place in the body, key its last key as it appears there,
// quotes included (a byte search for it spares most bodies the JSON
// search).
type numberRule struct {
	path     []any
	key      []byte
	min, max float64
}

func rule(min, max float64, path ...any) numberRule {
	return numberRule{path: path, key: []byte(`"` + path[len(path)-1].(string) + `"`), min: min, max: max}
}

var noMax = math.Inf(1)

// numberRules are, per wire format, the ranges of the numeric fields of
// a client's request, checked on the client's body whatever format the
// target speaks: token limits of at least 1, temperature in [0, 2]
// (Anthropic's [0, 1]), top_p in [0, 1], at least one answer.
var numberRules = [...][]numberRule{
	upstream.FormatOpenAI: {
		rule(1, noMax, "max_tokens"), rule(1, noMax, "max_completion_tokens"),
		rule(0, 2, "temperature"), rule(0, 1, "top_p"), rule(1, noMax, "n"),
	},
	upstream.FormatAnthropic: {
		rule(1, noMax, "max_tokens"), rule(0, 1, "temperature"), rule(0, 1, "top_p"),
	},
	upstream.FormatResponses: {
		rule(1, noMax, "max_output_tokens"), rule(0, 2, "temperature"), rule(0, 1, "top_p"),
	},
	upstream.FormatGemini: {
		rule(1, noMax, "generationConfig", "maxOutputTokens"), rule(0, 2, "generationConfig", "temperature"),
		rule(0, 1, "generationConfig", "topP"), rule(1, noMax, "generationConfig", "candidateCount"),
	},
}

// checkNumbers refuses a body of format f with a numeric field out of its
// range (numberRules), naming the field; null is unset. n is search
// scratch space.
func checkNumbers(body []byte, f upstream.Format, n *ast.Node) error {
	src := unsafe.String(unsafe.SliceData(body), len(body))
	for i := range numberRules[f] {
		r := &numberRules[f][i]
		if !bytes.Contains(body, r.key) {
			continue
		}
		var err error
		*n, err = sonic.GetFromString(src, r.path...)
		if errors.Is(err, ast.ErrNotExist) {
			continue
		}
		name := r.key[1 : len(r.key)-1]
		if err != nil {
			return fieldError(string(name), err)
		}
		switch n.TypeSafe() {
		case ast.V_NULL:
			continue
		case ast.V_NUMBER:
		default:
			return fmt.Errorf("%w: %s must be a number", errBadRequest, name)
		}
		v, err := n.Float64()
		if err != nil {
			return fmt.Errorf("%w: %s must be a number", errBadRequest, name)
		}
		switch {
		case v >= r.min && v <= r.max:
		case r.max == noMax:
			return fmt.Errorf("%w: %s is %v; it must be at least %v", errBadRequest, name, v, r.min)
		default:
			return fmt.Errorf("%w: %s is %v; it must be between %v and %v", errBadRequest, name, v, r.min, r.max)
		}
	}
	return nil
}
