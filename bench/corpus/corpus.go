// Package corpus generates realistic coding-agent conversations, the
// workload the gateway's context compression is measured on.
//
// Each conversation is one request as a coding agent (Claude Code,
// Codex CLI, OpenCode) sends it late in a session, in canonical form:
//
//   - a system prompt of about 1.5k tokens (agent rules, tool policy, a
//     fenced example, the environment: working directory, date, branch)
//     and eight tool definitions with JSON Schemas (about 2k tokens);
//     Claude-style conversations (two in three) add Claude Code's
//     todo, task, glob and web search tools, for a 5.5k-token prefix;
//   - a first user turn: the task, often with the project's AGENTS.md
//     as a <system-reminder>;
//   - then rounds of assistant tool calls and their results until the
//     request reaches its size: reading Go or TypeScript source files of
//     40 to 450 lines (numbered as `cat -n` prints them), running the
//     tests (`go test -v` or vitest, verbose, with failures that edits
//     fix one by one), grep, the file tree, JSON documents (package.json,
//     API responses pretty-printed as jq shows them), git status and
//     diff, edit_file calls whose results quote the edited snippet, and
//     re-reads: of edited files (changed) and of unchanged ones, and the
//     same command run again (exact repeats);
//   - a third of the read rounds read two or three files in parallel,
//     and some other rounds pair calls; Claude-style conversations carry
//     signed thinking blocks and toolu_ ids, OpenAI-style ones call_ ids;
//   - now and then the assistant sums up (Markdown, a code fence) and the
//     user follows up, sometimes pasting a log in a code fence, with the
//     reminder repeated as Claude Code repeats it.
//
// Corpus(2026, 50), the compression benchmark's corpus, counted with
// o200k_base: 6.5k to 166k tokens (median 33k) in 5 to 251 messages
// (median 27). Tool results are 80% of the tokens at the median (8% to
// 93%), tool definitions 10%, the system prompt 4%; content repeated verbatim from earlier in the
// conversation is 4% of a conversation at the median and 23% at the
// 90th percentile (recorded Claude Code and Codex sessions: 9-24% of a
// late request).
//
// Everything derives from the seed: the same seed gives the same
// conversations byte for byte, on every platform.
package corpus

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"switchboard/upstream/canon"
)

// The range of sizes Corpus spreads conversations over, in tokens
// (estimated while generating; o200k_base counts land within ~15%).
const (
	MinTokens = 6_000
	MaxTokens = 150_000
)

// Corpus returns n conversations whose sizes are spread log-uniformly
// from MinTokens to MaxTokens; conversation i is Generate(seed+i, size).
func Corpus(seed uint64, n int) []*canon.Request {
	out := make([]*canon.Request, n)
	for i := range out {
		f := 0.0
		if n > 1 {
			f = float64(i) / float64(n-1)
		}
		size := int(MinTokens * math.Pow(float64(MaxTokens)/MinTokens, f))
		out[i] = Generate(seed+uint64(i), size)
	}
	return out
}

// Generate returns one conversation of about targetTokens tokens (at
// least the system prompt, tools and a few rounds).
func Generate(seed uint64, targetTokens int) *canon.Request {
	r := rand.New(rand.NewPCG(seed, seed^0x5b0a2d))
	g := &gen{r: r, target: targetTokens, claude: r.IntN(3) != 0, failing: map[string]bool{}, seen: map[string]string{}}
	g.p = newProject(r)
	g.run()
	return g.req
}

// gen builds one conversation.
type gen struct {
	r       *rand.Rand
	p       *project
	req     *canon.Request
	claude  bool // Claude-style ids and thinking blocks
	target  int
	est     int // tokens so far, estimated from bytes
	failing map[string]bool
	seen    map[string]string // path -> content the model last read
	round   int
	pending []canon.Block // tool results of the current round
	lastCmd string        // a command worth repeating verbatim
	lastOut string
	agents  string // the AGENTS.md reminder
}

func (g *gen) run() {
	p := g.p
	g.req = &canon.Request{
		Model:     pick(g.r, []string{"claude-sonnet-4-5", "gpt-5.1-codex", "claude-opus-4-1", "gpt-5-mini"}),
		System:    []canon.Block{{Kind: canon.BlockText, Text: systemPrompt(g.r, p)}},
		Tools:     tools(),
		MaxTokens: int64(pick(g.r, []int{8192, 16384, 32000})),
		Stream:    true,
	}
	if g.claude {
		g.req.Tools = append(g.req.Tools, claudeTools()...)
	}
	g.add(g.req.System[0].Text)
	for _, t := range g.req.Tools {
		g.add(t.Description + t.Schema)
	}
	for _, t := range p.tests {
		if g.r.IntN(3) == 0 {
			g.failing[t] = true
		}
	}
	if len(g.failing) == 0 {
		g.failing[p.tests[0]] = true
	}
	g.agents = agentsReminder(g.r, p)
	first := []canon.Block{{Kind: canon.BlockText, Text: task(g.r, p, g.failing)}}
	if g.r.IntN(3) != 0 {
		first = append([]canon.Block{{Kind: canon.BlockText, Text: g.agents}}, first...)
	}
	g.user(first...)

	g.assistant("I'll start by looking at the project layout.", g.call("list_files", `{"path":"."}`, treeOutput(p)))
	g.flush()
	g.readRound()
	for g.est < g.target {
		g.step()
	}
}

// step plays one round: an assistant turn and the user turn answering
// it.
func (g *gen) step() {
	g.round++
	r := g.r
	if g.round%9 == 0 && r.IntN(2) == 0 {
		g.followUp()
		return
	}
	switch n := r.IntN(100); {
	case n < 30:
		g.readRound()
	case n < 48:
		g.testRound()
	case n < 68:
		g.editRound()
	case n < 77:
		g.grepRound()
	case n < 85:
		g.jsonRound()
	case n < 96:
		g.gitRound()
	default:
		g.repeatRound()
	}
}

func (g *gen) readRound() {
	r := g.r
	n := 1
	if r.IntN(3) == 0 {
		n = between(r, 2, 3)
	}
	var calls []canon.Block
	for range n {
		path := g.p.pickFile(r, g.seen)
		content := g.p.files[path]
		g.seen[path] = content
		calls = append(calls, g.call("read_file", jsonObject("path", "/home/dev/"+g.p.name+"/"+path), catN(content, 1)))
	}
	g.assistant(pick(r, []string{"Let me read the relevant code.", "Let me look at how this is implemented.", "I'll check the file again.", "", "Reading the test and the implementation side by side."}), calls...)
	g.flush()
}

func (g *gen) testRound() {
	r := g.r
	var cmd, out string
	if g.p.lang == "go" {
		pkg := pick(r, g.p.pkgs)
		cmd = "go test -v -count=1 ./" + pkg + "/..."
		out = goTestOutput(r, g.p.module, pkg, g.p.pkgTests[pkg], g.failing)
	} else {
		cmd = "npx vitest run"
		out = vitestOutput(r, g.p.testFiles(), g.p.tests, g.failing)
	}
	g.lastCmd, g.lastOut = cmd, out
	g.assistant(pick(r, []string{"Now let me run the tests.", "Running the tests to see where we stand.", ""}),
		g.call("run_tests", jsonObject("command", cmd), out))
	g.flush()
}

func (g *gen) editRound() {
	r := g.r
	path, ok := g.p.editable(r, g.seen)
	if !ok {
		g.readRound()
		return
	}
	content := g.p.files[path]
	lines := strings.Split(content, "\n")
	for range 20 {
		i := between(r, 0, len(lines)-3)
		old := lines[i] + "\n" + lines[i+1]
		if strings.TrimSpace(lines[i]) == "" || strings.Count(content, old) != 1 {
			continue
		}
		newLine := editLine(r, lines[i])
		newText := newLine + "\n" + lines[i+1]
		g.p.files[path] = strings.Replace(content, old, newText, 1)
		lo, hi := max(0, i-4), min(len(lines)-1, i+5)
		snippet := strings.Split(g.p.files[path], "\n")[lo:hi]
		out := fmt.Sprintf("The file /home/dev/%s/%s has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n%s", g.p.name, path, catN(strings.Join(snippet, "\n"), lo+1))
		input := jsonObject("path", "/home/dev/"+g.p.name+"/"+path, "old_string", old, "new_string", newText)
		g.assistant(pick(r, []string{"I see the problem: the condition is inverted. Let me fix it.", "Let me update this to handle the empty case.", "The bound is off by one; fixing.", ""}),
			g.call("edit_file", input, out))
		g.flush()
		for _, t := range g.p.tests { // in order: map order is random
			if g.failing[t] && r.IntN(3) == 0 {
				delete(g.failing, t)
				break
			}
		}
		return
	}
	g.readRound()
}

// editLine returns line changed the way a fix changes a line.
func editLine(r *rand.Rand, line string) string {
	switch {
	case strings.Contains(line, ">"):
		return strings.Replace(line, ">", ">=", 1)
	case strings.Contains(line, "return"):
		return line + " // " + strings.ToLower(strings.TrimSuffix(sentence(r, 5), "."))
	default:
		return line + " " + pick(r, []string{"// fixed", "// see TestSettle", "// was off by one"})
	}
}

func (g *gen) grepRound() {
	r := g.r
	pattern := pick(r, []string{pascal(pick(r, verbs), pick(r, nouns)), camel(pick(r, adjectives), pick(r, nouns)), "Err", "return", "mu.Lock", "await fetch", "cache"})
	out := grepOutput(g.p, pattern, between(r, 20, 120))
	g.lastCmd, g.lastOut = "rg -n "+pattern, out
	g.assistant("Let me find where this is used.", g.call("grep", jsonObject("pattern", pattern, "path", "."), out))
	g.flush()
}

func (g *gen) jsonRound() {
	r := g.r
	var calls []canon.Block
	switch {
	case g.p.lang == "ts" && r.IntN(2) == 0:
		calls = append(calls, g.call("read_file", jsonObject("path", "/home/dev/"+g.p.name+"/package.json"), g.p.files["package.json"]))
	default:
		noun := pick(r, nouns)
		url := "https://api.example.test/v1/" + noun + "s?limit=" + fmt.Sprint(between(r, 5, 40))
		calls = append(calls, g.call("fetch", jsonObject("url", url), apiJSON(r, noun, between(r, 3, 40))))
	}
	if r.IntN(3) == 0 {
		calls = append(calls, g.call("bash", jsonObject("command", "cat tsconfig.json"), tsconfig))
	}
	g.assistant("Let me check the data the API returns.", calls...)
	g.flush()
}

func (g *gen) gitRound() {
	r := g.r
	var b strings.Builder
	fmt.Fprintf(&b, "On branch %s\nChanges not staged for commit:\n  (use \"git add <file>...\" to update what will be committed)\n  (use \"git restore <file>...\" to discard changes in working directory)\n", g.p.branch)
	for _, p := range g.p.paths() {
		if g.seen[p] != "" && g.seen[p] != g.p.files[p] || r.IntN(12) == 0 {
			fmt.Fprintf(&b, "\tmodified:   %s\n", p)
		}
	}
	b.WriteString("\nno changes added to commit (use \"git add\" and/or \"git commit -a\")\n")
	calls := []canon.Block{g.call("bash", jsonObject("command", "git status"), b.String())}
	if r.IntN(2) == 0 {
		path := pick(r, g.p.paths())
		calls = append(calls, g.call("bash", jsonObject("command", "git diff "+path), unifiedDiff(path, "\treturn n", "\treturn n + 1", between(r, 10, 300))))
	}
	g.assistant("Let me review what changed so far.", calls...)
	g.flush()
}

// repeatRound re-reads an unchanged file or runs the last command again
// with the same output: the exact repeats Dedupe is for.
func (g *gen) repeatRound() {
	r := g.r
	if g.lastCmd != "" && r.IntN(2) == 0 {
		g.assistant("Let me run that again to double-check.", g.call("bash", jsonObject("command", g.lastCmd), g.lastOut))
		g.flush()
		return
	}
	for _, path := range g.p.paths() {
		if c, ok := g.seen[path]; ok && c == g.p.files[path] && r.IntN(2) == 0 {
			g.assistant("Let me re-read this file to be sure.", g.call("read_file", jsonObject("path", "/home/dev/"+g.p.name+"/"+path), catN(c, 1)))
			g.flush()
			return
		}
	}
	g.readRound()
}

func (g *gen) followUp() {
	r := g.r
	text := pick(r, []string{
		"Thanks. Now also handle the case where the %s is empty, and add a test for it.",
		"That works, but the %s path is still slow. Can you look at why?",
		"Before you go on: don't change the public API of %s.",
	})
	blocks := []canon.Block{{Kind: canon.BlockText, Text: fmt.Sprintf(text, pick(r, nouns))}}
	if r.IntN(2) == 0 {
		var log strings.Builder
		log.WriteString("Here's what I see when I run it locally:\n\n```\n")
		for range between(r, 8, 40) {
			fmt.Fprintf(&log, "%s  %-5s  %-12s  %s\n", fmt.Sprintf("2026-03-%02dT%02d:%02d:%02dZ", between(r, 1, 28), r.IntN(24), r.IntN(60), r.IntN(60)), pick(r, []string{"INFO", "WARN", "ERROR"}), pick(r, nouns), sentence(r, between(r, 4, 12)))
		}
		log.WriteString("```\n\nAny    idea?   ")
		blocks = append(blocks, canon.Block{Kind: canon.BlockText, Text: log.String()})
	}
	if g.agents != "" && r.IntN(2) == 0 {
		blocks = append(blocks, canon.Block{Kind: canon.BlockText, Text: g.agents})
	}
	// The user speaks after the assistant's summary of its work.
	g.req.Messages = append(g.req.Messages, canon.Message{Role: canon.RoleAssistant, Content: []canon.Block{{Kind: canon.BlockText, Text: summary(r, g.p)}}})
	g.add(g.req.Messages[len(g.req.Messages)-1].Content[0].Text)
	g.user(blocks...)
}

// call returns a tool_use block and queues its result for the next user
// turn.
func (g *gen) call(name, input, result string) canon.Block {
	id := ""
	if g.claude {
		id = "toolu_01" + randomString(g.r, base62, 22)
	} else {
		id = "call_" + randomString(g.r, base62, 24)
	}
	g.pending = append(g.pending, canon.Block{Kind: canon.BlockToolResult, ID: id, Content: []canon.Block{{Kind: canon.BlockText, Text: result}}})
	g.add(input)
	g.add(result)
	return canon.Block{Kind: canon.BlockToolUse, ID: id, Name: name, Input: input}
}

// assistant appends an assistant turn: a thinking block (Claude style,
// half the time), a sentence and the calls.
func (g *gen) assistant(text string, calls ...canon.Block) {
	var blocks []canon.Block
	if g.claude && g.r.IntN(2) == 0 {
		th := sentence(g.r, between(g.r, 15, 60)) + " " + sentence(g.r, between(g.r, 10, 40))
		blocks = append(blocks, canon.Block{Kind: canon.BlockThinking, Text: th, Signature: randomString(g.r, base62+"+/", between(g.r, 300, 900))})
		g.add(th)
	}
	if text != "" {
		blocks = append(blocks, canon.Block{Kind: canon.BlockText, Text: text})
		g.add(text)
	}
	blocks = append(blocks, calls...)
	g.req.Messages = append(g.req.Messages, canon.Message{Role: canon.RoleAssistant, Content: blocks})
}

// flush appends the user turn holding the queued tool results.
func (g *gen) flush() {
	g.req.Messages = append(g.req.Messages, canon.Message{Role: canon.RoleUser, Content: g.pending})
	g.pending = nil
}

func (g *gen) user(blocks ...canon.Block) {
	for _, b := range blocks {
		g.add(b.Text)
	}
	g.req.Messages = append(g.req.Messages, canon.Message{Role: canon.RoleUser, Content: blocks})
}

// add books text's estimated tokens: about 3.6 bytes a token for code
// and logs, plus each message's framing.
func (g *gen) add(s string) { g.est += len(s)*10/36 + 1 }

// jsonObject returns a JSON object of the key/value string pairs, in
// order.
func jsonObject(kv ...string) string {
	b := []byte{'{'}
	for i := 0; i+1 < len(kv); i += 2 {
		b = canon.AppendStringField(b, kv[i], kv[i+1])
	}
	return string(append(b, '}'))
}

// project is the repository the agent works on.
type project struct {
	name, module, branch string
	lang                 string // "go" or "ts"
	files                map[string]string
	pkgs                 []string
	pkgTests             map[string][]string
	tests                []string
	sorted               []string
}

func newProject(r *rand.Rand) *project {
	p := &project{
		name:     pick(r, nouns) + "-" + pick(r, []string{"service", "api", "gateway", "web", "worker"}),
		branch:   pick(r, []string{"main", "fix/" + pick(r, nouns), "feat/" + pick(r, verbs) + "-" + pick(r, nouns)}),
		files:    map[string]string{},
		pkgTests: map[string][]string{},
	}
	p.module = "github.com/acme/" + p.name
	size := func() int { return int(40 * math.Pow(450.0/40, r.Float64())) }
	if r.IntN(2) == 0 {
		p.lang = "go"
		p.files["go.mod"] = fmt.Sprintf("module %s\n\ngo 1.24\n\nrequire (\n\tgithub.com/cockroachdb/pebble/v2 v2.1.0\n\tgithub.com/valyala/fasthttp v1.62.0\n)\n", p.module)
		for range between(r, 3, 5) {
			pkg := pick(r, nouns)
			if slices.Contains(p.pkgs, pkg) {
				continue
			}
			p.pkgs = append(p.pkgs, pkg)
			dir := "internal/" + pkg
			for range between(r, 1, 3) {
				noun := pick(r, nouns)
				p.files[dir+"/"+noun+".go"] = goFile(r, pkg, noun, size(), false)
			}
			test := goFile(r, pkg, pkg, size(), true)
			p.files[dir+"/"+pkg+"_test.go"] = test
			for _, line := range strings.Split(test, "\n") {
				if name, ok := strings.CutPrefix(line, "func "); ok && strings.HasPrefix(name, "Test") {
					name = name[:strings.IndexByte(name, '(')]
					p.pkgTests[pkg] = append(p.pkgTests[pkg], name)
					p.tests = append(p.tests, name)
				}
			}
		}
		p.files["cmd/"+p.name+"/main.go"] = goFile(r, "main", "server", size(), false)
	} else {
		p.lang = "ts"
		p.files["package.json"] = packageJSON(r, p.name)
		p.files["tsconfig.json"] = tsconfig
		for range between(r, 3, 6) {
			noun := pick(r, nouns)
			p.files["src/"+noun+".ts"] = tsFile(r, noun, size(), false)
			test := tsFile(r, noun, size()/2+20, true)
			p.files["src/"+noun+".test.ts"] = test
			for _, line := range strings.Split(test, "\n") {
				if name, ok := strings.CutPrefix(line, "  it('"); ok {
					p.tests = append(p.tests, name[:strings.IndexByte(name, '\'')])
				}
			}
		}
	}
	for path := range p.files {
		p.sorted = append(p.sorted, path)
	}
	slices.Sort(p.sorted)
	return p
}

func (p *project) paths() []string { return p.sorted }

func (p *project) testFiles() []string {
	var out []string
	for _, path := range p.sorted {
		if strings.HasSuffix(path, ".test.ts") {
			out = append(out, path)
		}
	}
	return out
}

// pickFile picks a source file to read, favouring code over manifests
// and, six times in seven, a file the model has not read yet.
func (p *project) pickFile(r *rand.Rand, seen map[string]string) string {
	fresh := r.IntN(7) != 0
	for range 50 {
		path := pick(r, p.sorted)
		if _, read := seen[path]; read && fresh {
			continue
		}
		if strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".ts") || r.IntN(6) == 0 {
			return path
		}
	}
	return pick(r, p.sorted)
}

// editable picks a source file the model has read.
func (p *project) editable(r *rand.Rand, seen map[string]string) (string, bool) {
	var cands []string
	for _, path := range p.sorted {
		if _, ok := seen[path]; ok && (strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".ts")) {
			cands = append(cands, path)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	return pick(r, cands), true
}

const tsconfig = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "bundler",
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "jsx": "react-jsx",
    "skipLibCheck": true,
    "outDir": "dist",
    "paths": {
      "@/*": ["./src/*"]
    }
  },
  "include": ["src"]
}
`
