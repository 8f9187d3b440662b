package corpus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Source files of the generated projects: Go (tabs, gofmt alignment) or
// TypeScript (two-space indentation), with doc comments, types, methods
// and table-driven tests, of a given rough length in lines.

// goFile returns a Go source file of package pkg about noun, about lines
// lines long.
func goFile(r *rand.Rand, pkg, noun string, lines int, test bool) string {
	var b strings.Builder
	typ := pascal(noun)
	if !test {
		fmt.Fprintf(&b, "// Package %s %s %ss and their %ss.\n", pkg, pick(r, []string{"keeps", "manages", "serves", "stores"}), noun, pick(r, nouns))
	}
	fmt.Fprintf(&b, "package %s\n\nimport (\n", pkg)
	imps := []string{`"context"`, `"errors"`, `"fmt"`, `"sync"`, `"time"`}
	if test {
		imps = []string{`"context"`, `"errors"`, `"testing"`}
	}
	for range between(r, 1, 4) {
		if imp := pick(r, goImports); !slices.Contains(imps, imp) {
			imps = append(imps, imp)
		}
	}
	slices.Sort(imps)
	for _, imp := range imps {
		fmt.Fprintf(&b, "\t%s\n", imp)
	}
	b.WriteString(")\n\n")
	if test {
		for strings.Count(b.String(), "\n") < lines {
			goTest(r, &b, typ, noun)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "// Err%sNotFound is returned when no %s has the given id.\nvar Err%sNotFound = errors.New(%q)\n\n", typ, noun, typ, pkg+": "+noun+" not found")
	b.WriteString("const (\n")
	consts := between(r, 2, 5)
	names := make([]string, consts)
	width := 0
	for i := range names {
		names[i] = camel(pick(r, adjectives), pick(r, nouns), pick(r, []string{"Size", "Limit", "Timeout", "Retries", "Count"}))
		width = max(width, len(names[i]))
	}
	for _, n := range names {
		fmt.Fprintf(&b, "\t%-*s = %d\n", width, n, between(r, 1, 4096))
	}
	b.WriteString(")\n\n")
	goStruct(r, &b, typ, noun)
	for strings.Count(b.String(), "\n") < lines {
		goMethod(r, &b, typ, noun)
	}
	return b.String()
}

func goStruct(r *rand.Rand, b *strings.Builder, typ, noun string) {
	fmt.Fprintf(b, "// %s %s. It is safe for concurrent use; the zero value is\n// not usable, call New%s.\ntype %s struct {\n", typ, strings.TrimSuffix(sentence(r, between(r, 6, 14)), "."), typ, typ)
	fields := between(r, 4, 10)
	type field struct{ name, typ, comment string }
	fs := []field{{"mu", "sync.Mutex", ""}}
	for range fields {
		fs = append(fs, field{camel(pick(r, adjectives), pick(r, nouns)), pick(r, goTypes), strings.ToLower(sentence(r, between(r, 3, 8)))})
	}
	width, twidth := 0, 0
	for _, f := range fs {
		width, twidth = max(width, len(f.name)), max(twidth, len(f.typ))
	}
	for _, f := range fs {
		if f.comment != "" && r.IntN(2) == 0 {
			fmt.Fprintf(b, "\t%-*s %-*s // %s\n", width, f.name, twidth, f.typ, strings.TrimSuffix(f.comment, "."))
		} else {
			fmt.Fprintf(b, "\t%-*s %s\n", width, f.name, f.typ)
		}
	}
	fmt.Fprintf(b, "\t%-*s map[string]*%sEntry\n}\n\n", width, "entries", typ)
	fmt.Fprintf(b, "// New%s returns an empty %s.\nfunc New%s() *%s {\n\treturn &%s{entries: make(map[string]*%sEntry)}\n}\n\n", typ, noun, typ, typ, typ, typ)
}

func goMethod(r *rand.Rand, b *strings.Builder, typ, noun string) {
	verb, obj := pick(r, verbs), pick(r, nouns)
	name := pascal(verb, obj)
	recv := strings.ToLower(typ[:1])
	fmt.Fprintf(b, "// %s %ss the %s of the %s with the given id. %s\n", name, verb, obj, noun, sentence(r, between(r, 5, 12)))
	fmt.Fprintf(b, "func (%s *%s) %s(ctx context.Context, id string, n int64) (int64, error) {\n", recv, typ, name)
	fmt.Fprintf(b, "\t%s.mu.Lock()\n\tdefer %s.mu.Unlock()\n", recv, recv)
	fmt.Fprintf(b, "\te, ok := %s.entries[id]\n\tif !ok {\n\t\treturn 0, fmt.Errorf(\"%s %%q: %%w\", id, Err%sNotFound)\n\t}\n", recv, verb, typ)
	for range between(r, 2, 7) {
		goStatement(r, b, recv, 1)
	}
	fmt.Fprintf(b, "\treturn e.%s, nil\n}\n\n", camel(pick(r, adjectives), pick(r, nouns)))
}

func goStatement(r *rand.Rand, b *strings.Builder, recv string, depth int) {
	ind := strings.Repeat("\t", depth)
	v := camel(pick(r, adjectives), pick(r, nouns))
	switch r.IntN(8) {
	case 0:
		fmt.Fprintf(b, "%sif err := ctx.Err(); err != nil {\n%s\treturn 0, fmt.Errorf(\"%s: %%w\", err)\n%s}\n", ind, ind, pick(r, verbs), ind)
	case 1:
		fmt.Fprintf(b, "%sfor i := range e.%s {\n", ind, v)
		if depth < 3 {
			goStatement(r, b, recv, depth+1)
		}
		fmt.Fprintf(b, "%s\t_ = i\n%s}\n", ind, ind)
	case 2:
		fmt.Fprintf(b, "%sif n > %s {\n%s\tn = %s\n%s}\n", ind, camel("max", pick(r, nouns)), ind, camel("max", pick(r, nouns)), ind)
	case 3:
		fmt.Fprintf(b, "%s// %s\n%s%s := e.%s + n\n%se.%s = %s\n", ind, sentence(r, between(r, 6, 14)), ind, v, v, ind, v, v)
	case 4:
		fmt.Fprintf(b, "%sswitch e.state {\n%scase state%s:\n%s\te.%s++\n%scase state%s, state%s:\n%s\treturn 0, errors.New(%q)\n%sdefault:\n%s\t%s.%s(e)\n%s}\n",
			ind, ind, pascal(pick(r, adjectives)), ind, v, ind, pascal(pick(r, adjectives)), pascal(pick(r, adjectives)), ind, pick(r, verbs)+" "+pick(r, nouns)+": "+pick(r, adjectives), ind, ind, recv, camel(pick(r, verbs), pick(r, nouns)), ind)
	case 5:
		fmt.Fprintf(b, "%s%s, err := %s.%s(ctx, id)\n%sif err != nil {\n%s\treturn 0, err\n%s}\n%se.%s = append(e.%s, %s...)\n", ind, v, recv, camel(pick(r, verbs), pick(r, nouns)), ind, ind, ind, ind, v, v, v)
	case 6:
		fmt.Fprintf(b, "%sif time.Since(e.updated) > %d*time.Second {\n%s\te.%s = nil // %s\n%s}\n", ind, between(r, 1, 600), ind, v, strings.ToLower(strings.TrimSuffix(sentence(r, 5), ".")), ind)
	default:
		fmt.Fprintf(b, "%s%s.%s += n\n", ind, recv, camel(pick(r, adjectives), pick(r, nouns)))
	}
}

func goTest(r *rand.Rand, b *strings.Builder, typ, noun string) {
	verb, obj := pick(r, verbs), pick(r, nouns)
	fmt.Fprintf(b, "func Test%s%s%s(t *testing.T) {\n", typ, pascal(verb), pascal(obj))
	fmt.Fprintf(b, "\tf := func(id string, n, want int64) {\n\t\tt.Helper()\n\t\tl := New%s()\n", typ)
	fmt.Fprintf(b, "\t\tgot, err := l.%s(context.Background(), id, n)\n\t\tif err != nil && !errors.Is(err, Err%sNotFound) {\n\t\t\tt.Fatalf(\"%s(%%q, %%d): %%v\", id, n, err)\n\t\t}\n", pascal(verb, obj), typ, pascal(verb, obj))
	b.WriteString("\t\tif got != want {\n\t\t\tt.Errorf(\"got %d, want %d\", got, want)\n\t\t}\n\t}\n")
	for range between(r, 3, 9) {
		fmt.Fprintf(b, "\tf(%q, %d, %d)\n", pick(r, adjectives)+"-"+randomString(r, "0123456789abcdef", 6), between(r, 0, 1000), between(r, 0, 1000))
	}
	b.WriteString("}\n\n")
}

// tsFile returns a TypeScript module about noun, about lines lines long.
func tsFile(r *rand.Rand, noun string, lines int, test bool) string {
	var b strings.Builder
	typ := pascal(noun)
	if test {
		fmt.Fprintf(&b, "import { describe, expect, it, vi } from 'vitest';\nimport { %sClient } from './%s';\n\n", typ, noun)
		for strings.Count(b.String(), "\n") < lines {
			fmt.Fprintf(&b, "describe('%sClient.%s', () => {\n", typ, camel(pick(r, verbs), pick(r, nouns)))
			for range between(r, 2, 5) {
				fmt.Fprintf(&b, "  it('%s', async () => {\n    const fetch = vi.fn().mockResolvedValue({ ok: true, json: async () => ({ id: '%s', total: %d }) });\n", strings.ToLower(strings.TrimSuffix(sentence(r, between(r, 4, 9)), ".")), randomString(r, base62, 8), between(r, 0, 999))
				fmt.Fprintf(&b, "    const client = new %sClient('https://api.example.test', { fetch, retries: %d });\n    const got = await client.%s('%s');\n    expect(got.total).toBe(%d);\n  });\n\n", typ, between(r, 0, 3), camel(pick(r, verbs), pick(r, nouns)), pick(r, adjectives), between(r, 0, 999))
			}
			b.WriteString("});\n\n")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "import type { %s, %s } from '../types';\nimport { %s } from '../lib/%s';\n\n", pascal(pick(r, nouns)), pascal(pick(r, nouns)), camel(pick(r, verbs), pick(r, nouns)), pick(r, nouns))
	fmt.Fprintf(&b, "export interface %sOptions {\n", typ)
	for range between(r, 3, 8) {
		opt := "?"
		if r.IntN(2) == 0 {
			opt = ""
		}
		fmt.Fprintf(&b, "  /** %s */\n  %s%s: %s;\n", sentence(r, between(r, 4, 10)), camel(pick(r, adjectives), pick(r, nouns)), opt, pick(r, tsTypes))
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "export class %sClient {\n  private readonly cache = new Map<string, %s>();\n\n  constructor(\n    private readonly baseUrl: string,\n    private readonly opts: %sOptions,\n  ) {}\n\n", typ, typ, typ)
	for strings.Count(b.String(), "\n") < lines-2 {
		m := camel(pick(r, verbs), pick(r, nouns))
		fmt.Fprintf(&b, "  /**\n   * %s\n   */\n  async %s(id: string): Promise<%s> {\n", sentence(r, between(r, 6, 16)), m, typ)
		fmt.Fprintf(&b, "    const cached = this.cache.get(id);\n    if (cached && !this.opts.%s) {\n      return cached;\n    }\n", camel(pick(r, adjectives), pick(r, nouns)))
		fmt.Fprintf(&b, "    const res = await fetch(`${this.baseUrl}/%ss/${encodeURIComponent(id)}/%s`, {\n      method: '%s',\n      headers: { 'content-type': 'application/json' },\n    });\n", noun, pick(r, verbs), pick(r, []string{"GET", "POST", "PUT"}))
		fmt.Fprintf(&b, "    if (!res.ok) {\n      throw new Error(`%s ${id}: ${res.status} ${res.statusText}`);\n    }\n    const body = (await res.json()) as %s;\n", m, typ)
		for range between(r, 0, 3) {
			fmt.Fprintf(&b, "    // %s\n    body.%s = body.%s ?? %d;\n", sentence(r, between(r, 5, 12)), camel(pick(r, adjectives), pick(r, nouns)), camel(pick(r, adjectives), pick(r, nouns)), between(r, 0, 100))
		}
		b.WriteString("    this.cache.set(id, body);\n    return body;\n  }\n\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// catN numbers the lines of s as `cat -n` does (Claude Code's Read and
// most agents' file tools answer this way): the number right-aligned in
// six columns, a tab, the line.
func catN(s string, from int) string {
	var b strings.Builder
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		fmt.Fprintf(&b, "%6d\t%s\n", from+i, l)
	}
	return b.String()
}
