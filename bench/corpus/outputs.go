package corpus

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
)

// Tool outputs: test runs, grep, file trees, JSON documents, diffs.

// goTestOutput returns `go test -v` output for the test names, failing
// those in fail; verbose log lines make it long, as real runs are.
func goTestOutput(r *rand.Rand, module, pkg string, tests []string, fail map[string]bool) string {
	var b strings.Builder
	failed := false
	for _, t := range tests {
		fmt.Fprintf(&b, "=== RUN   %s\n", t)
		for range between(r, 0, 4) {
			fmt.Fprintf(&b, "    %s_test.go:%d: %s\n", pkg, between(r, 10, 400), strings.ToLower(strings.TrimSuffix(sentence(r, between(r, 4, 10)), ".")))
		}
		if r.IntN(4) == 0 {
			for i := range between(r, 2, 5) {
				sub := fmt.Sprintf("%s/%s_%d", t, pick(r, adjectives), i)
				fmt.Fprintf(&b, "=== RUN   %s\n--- PASS: %s (0.00s)\n", sub, sub)
			}
		}
		if fail[t] {
			failed = true
			fmt.Fprintf(&b, "    %s_test.go:%d: %s\n", pkg, between(r, 10, 400), fmt.Sprintf(pick(r, failures[:1]), between(r, 0, 100), between(r, 0, 100)))
			fmt.Fprintf(&b, "    %s_test.go:%d: %s: got %d, want %d\n", pkg, between(r, 10, 400), pick(r, verbs), between(r, 0, 100), between(r, 0, 100))
			fmt.Fprintf(&b, "--- FAIL: %s (%d.%02ds)\n", t, r.IntN(2), r.IntN(100))
		} else {
			fmt.Fprintf(&b, "--- PASS: %s (%d.%02ds)\n", t, 0, r.IntN(30))
		}
	}
	if failed {
		fmt.Fprintf(&b, "FAIL\nFAIL\t%s/%s\t%d.%03ds\nFAIL\n", module, pkg, r.IntN(3), r.IntN(1000))
	} else {
		fmt.Fprintf(&b, "PASS\nok  \t%s/%s\t%d.%03ds\n", module, pkg, r.IntN(3), r.IntN(1000))
	}
	return b.String()
}

// vitestOutput returns a vitest run's output, with a code frame for each
// failure, as TypeScript agents see it.
func vitestOutput(r *rand.Rand, files []string, tests []string, fail map[string]bool) string {
	var b strings.Builder
	b.WriteString("\n RUN  v3.2.4 /home/dev/app\n\n")
	nfail := 0
	for _, f := range files {
		mark := "✓"
		for _, t := range tests {
			if fail[t] {
				mark = "❯"
			}
		}
		fmt.Fprintf(&b, " %s %s (%d tests) %dms\n", mark, f, len(tests), between(r, 3, 400))
		for _, t := range tests {
			if fail[t] {
				nfail++
				fmt.Fprintf(&b, "   × %s %dms\n", t, between(r, 1, 90))
			} else {
				fmt.Fprintf(&b, "   ✓ %s %dms\n", t, between(r, 1, 90))
			}
		}
	}
	for _, t := range tests {
		if !fail[t] {
			continue
		}
		line := between(r, 12, 300)
		fmt.Fprintf(&b, "\n⎯⎯⎯⎯⎯⎯⎯ Failed Tests %d ⎯⎯⎯⎯⎯⎯⎯\n\n FAIL  %s > %s\nAssertionError: expected %d to be %d // Object.is equality\n\n- Expected\n+ Received\n\n- %d\n+ %d\n\n", nfail, files[0], t, between(r, 0, 99), between(r, 0, 99), between(r, 0, 99), between(r, 0, 99))
		fmt.Fprintf(&b, " ❯ %s:%d:%d\n", files[0], line, between(r, 5, 30))
		for i := line - 3; i <= line+3; i++ {
			prefix := "   "
			if i == line {
				prefix = " ❯ "
			}
			fmt.Fprintf(&b, "    %s%3d|     expect(got.%s).toBe(%d);\n", prefix, i, camel(pick(r, adjectives), pick(r, nouns)), between(r, 0, 99))
		}
	}
	passed := len(tests)*len(files) - nfail
	fmt.Fprintf(&b, "\n Test Files  %d failed | %d passed (%d)\n      Tests  %d failed | %d passed (%d)\n   Start at  %02d:%02d:%02d\n   Duration  %d.%02ds (transform %dms, setup %dms, collect %dms, tests %dms)\n",
		min(nfail, len(files)), len(files)-min(nfail, len(files)), len(files), nfail, passed, nfail+passed,
		between(r, 8, 19), r.IntN(60), r.IntN(60), between(r, 1, 9), r.IntN(100), between(r, 50, 900), between(r, 0, 90), between(r, 100, 2000), between(r, 10, 900))
	return b.String()
}

// grepOutput greps the project's files for pattern as `rg -n` prints
// it, capped at max matches.
func grepOutput(p *project, pattern string, maxMatches int) string {
	re, err := regexp.Compile(regexp.QuoteMeta(pattern))
	if err != nil {
		return ""
	}
	var b strings.Builder
	n := 0
	for _, path := range p.paths() {
		for i, line := range strings.Split(p.files[path], "\n") {
			if re.MatchString(line) {
				fmt.Fprintf(&b, "%s:%d:%s\n", path, i+1, line)
				n++
				if n == maxMatches {
					return b.String()
				}
			}
		}
	}
	if n == 0 {
		return "No matches found"
	}
	return b.String()
}

// treeOutput lists the project's files as a tree.
func treeOutput(p *project) string {
	var b strings.Builder
	b.WriteString("- /home/dev/" + p.name + "/\n")
	last := ""
	for _, path := range p.paths() {
		dir, file := "", path
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			dir, file = path[:i], path[i+1:]
		}
		if dir != last && dir != "" {
			fmt.Fprintf(&b, "  - %s/\n", dir)
			last = dir
		}
		indent := "  "
		if dir != "" {
			indent = "    "
		}
		fmt.Fprintf(&b, "%s- %s\n", indent, file)
	}
	return b.String()
}

// packageJSON returns a package.json, pretty-printed as npm writes it.
func packageJSON(r *rand.Rand, name string) string {
	deps := []string{"react", "react-dom", "zod", "@tanstack/react-query", "date-fns", "clsx", "axios", "lodash-es", "zustand", "express", "pino"}
	dev := []string{"typescript", "vitest", "@types/node", "@types/react", "eslint", "prettier", "vite", "@vitejs/plugin-react", "tsx", "@testing-library/react"}
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"name\": %q,\n  \"version\": \"%d.%d.%d\",\n  \"private\": true,\n  \"type\": \"module\",\n  \"scripts\": {\n", name, r.IntN(3), r.IntN(20), r.IntN(10))
	fmt.Fprintf(&b, "    \"dev\": \"vite\",\n    \"build\": \"tsc -b && vite build\",\n    \"test\": \"vitest run\",\n    \"lint\": \"eslint . --max-warnings 0\",\n    \"format\": \"prettier --write .\"\n  },\n")
	writeDeps := func(key string, names []string) {
		fmt.Fprintf(&b, "  %q: {\n", key)
		names = slices.Clone(names)
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		names = names[:between(r, 4, len(names))]
		slices.Sort(names)
		for i, n := range names {
			comma := ","
			if i == len(names)-1 {
				comma = ""
			}
			fmt.Fprintf(&b, "    %q: \"^%d.%d.%d\"%s\n", n, between(r, 1, 19), r.IntN(30), r.IntN(20), comma)
		}
		b.WriteString("  }")
	}
	writeDeps("dependencies", deps)
	b.WriteString(",\n")
	writeDeps("devDependencies", dev)
	b.WriteString("\n}\n")
	return b.String()
}

// apiJSON returns an API response: a page of objects, pretty-printed
// with two-space indentation as curl | jq shows it.
func apiJSON(r *rand.Rand, noun string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"object\": \"list\",\n  \"has_more\": %t,\n  \"data\": [\n", r.IntN(2) == 0)
	for i := range n {
		fmt.Fprintf(&b, "    {\n      \"id\": \"%s_%s\",\n      \"object\": %q,\n      \"created\": %d,\n      \"status\": %q,\n      \"amount\": %d,\n      \"currency\": \"usd\",\n",
			noun[:3], randomString(r, base62, 14), noun, 1760000000+r.IntN(9000000), pick(r, adjectives), r.IntN(100000))
		fmt.Fprintf(&b, "      \"metadata\": {\n        \"%s\": \"%s\",\n        \"%s\": %d\n      },\n", camel(pick(r, adjectives), pick(r, nouns)), randomString(r, base62, 10), camel(pick(r, nouns), "id"), r.IntN(1000))
		fmt.Fprintf(&b, "      \"description\": %q,\n      \"tags\": [%q, %q]\n    }", sentence(r, between(r, 4, 12)), pick(r, nouns), pick(r, verbs))
		if i < n-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "  ],\n  \"url\": \"/v1/%ss\"\n}\n", noun)
	return b.String()
}

// unifiedDiff returns a git diff of one edit.
func unifiedDiff(path, old, new string, line int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "diff --git a/%s b/%s\nindex 3f2a91c..8e0b7d4 100644\n--- a/%s\n+++ b/%s\n", path, path, path, path)
	ol, nl := strings.Split(old, "\n"), strings.Split(new, "\n")
	fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n", line, len(ol), line, len(nl))
	for _, l := range ol {
		b.WriteString("-" + l + "\n")
	}
	for _, l := range nl {
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}
