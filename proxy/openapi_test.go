package proxy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"switchboard/proxy/api"
)

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func readOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// httpMethods are the keys of an OpenAPI path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// documentedRoutes returns "METHOD path" for every operation of doc.
func documentedRoutes(doc openAPIDoc) []string {
	var out []string
	for path, item := range doc.Paths {
		for m := range item {
			if slices.Contains(httpMethods, m) {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// serverRoutes reads the gateway's own endpoints outside /api/v1 from
// the switch statements of (*Server).route in server.go, the router
// itself: every case that does not proxy (call s.serve) is an endpoint
// answered to GET, and a strings.CutPrefix in a case is a path with a
// parameter. The second switch matches paths with /v1 cut off, so its
// paths are /v1 paths.
func serverRoutes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "server.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var route *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "route" && fd.Recv != nil {
			route = fd
		}
	}
	if route == nil {
		t.Fatal("server.go has no (*Server).route")
	}
	var out []string
	switches := 0
	for _, st := range route.Body.List {
		sw, ok := st.(*ast.SwitchStmt)
		if !ok {
			continue
		}
		prefix := ""
		if switches > 0 {
			prefix = "/v1"
		}
		switches++
		for _, c := range sw.Body.List {
			cc := c.(*ast.CaseClause)
			if callsMethod(cc.Body, "serve") {
				continue // a proxied surface
			}
			for _, e := range cc.List {
				out = append(out, "GET "+prefix+stringLit(t, e))
			}
			ast.Inspect(&ast.BlockStmt{List: cc.Body}, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok && isSelector(call.Fun, "CutPrefix") && len(call.Args) == 2 {
					out = append(out, "GET "+prefix+stringLit(t, call.Args[1])+"{}")
				}
				return true
			})
		}
	}
	if switches != 2 {
		t.Fatalf("(*Server).route has %d switch statements, want 2: update serverRoutes", switches)
	}
	return out
}

func stringLit(t *testing.T, e ast.Expr) string {
	t.Helper()
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		t.Fatalf("route: a case or prefix that is not a string literal: %#v", e)
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func isSelector(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name
}

// callsMethod reports whether body calls a func or method named name.
func callsMethod(body []ast.Stmt, name string) bool {
	found := false
	ast.Inspect(&ast.BlockStmt{List: body}, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && isSelector(call.Fun, name) {
			found = true
		}
		return !found
	})
	return found
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// registeredRoutes returns "METHOD path" for every endpoint the server
// registers other than the proxied surfaces, with each path parameter
// written {}.
func registeredRoutes(t *testing.T) []string {
	out := serverRoutes(t)
	for _, r := range api.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	for i := range out {
		out[i] = pathParam.ReplaceAllString(out[i], "{}")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestOpenAPIMatchesRoutes holds openapi.json to the router: every
// endpoint the server registers (but the proxied surfaces) is
// documented, with its method, and every documented operation is
// registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	documented := documentedRoutes(readOpenAPI(t))
	for i := range documented {
		documented[i] = pathParam.ReplaceAllString(documented[i], "{}")
	}
	registered := registeredRoutes(t)
	if len(registered) < 20 {
		t.Fatalf("found only %d routes: %v", len(registered), registered)
	}
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("registered but not in openapi.json: %s", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("in openapi.json but not registered: %s", d)
		}
	}
}

// TestOpenAPIServed checks that GET /openapi.json answers the document
// without a key, and that every documented operation reaches an
// endpoint of a real gateway: never "no such endpoint" or 405, and no
// 401 for an operation the document says takes no auth.
func TestOpenAPIServed(t *testing.T) {
	g := startBillingGateway(t)
	r := g.do(t, "GET", "/openapi.json", "", "Authorization", "")
	if r.status != 200 || r.body != string(openAPIDocument) || !strings.HasPrefix(r.header["content-type"], "application/json") {
		t.Fatalf("GET /openapi.json: %d %q %.80s", r.status, r.header["content-type"], r.body)
	}
	doc := readOpenAPI(t)
	for path, item := range doc.Paths {
		for m, raw := range item {
			if !slices.Contains(httpMethods, m) {
				continue
			}
			var op struct {
				Security []map[string][]string `json:"security"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, path, err)
			}
			auth := ""
			switch {
			case len(op.Security) == 0:
			case strings.HasPrefix(path, "/api/v1/admin/"):
				auth = "Bearer " + masterKey
			default:
				auth = "Bearer " + testKey
			}
			url := pathParam.ReplaceAllString(path, "acct1")
			method := strings.ToUpper(m)
			r := g.do(t, method, url, "{}", "Authorization", auth)
			if r.status == 405 || r.status == 404 && strings.Contains(r.body, "no such endpoint") || auth == "" && r.status == 401 {
				t.Errorf("%s %s: %d %s", method, url, r.status, r.body)
			}
		}
	}
}

// TestOpenAPIRefs checks that every $ref of openapi.json names a schema
// the document defines.
func TestOpenAPIRefs(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`"\$ref": *"([^"]*)"`).FindAllSubmatch(openAPIDocument, -1)
	if len(refs) == 0 {
		t.Fatal("no $ref in openapi.json")
	}
	for _, m := range refs {
		name, ok := strings.CutPrefix(string(m[1]), "#/components/schemas/")
		if _, defined := doc.Components.Schemas[name]; !ok || !defined {
			t.Errorf("$ref %s: no such schema", m[1])
		}
	}
}
