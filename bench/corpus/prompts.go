package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"switchboard/upstream/canon"
)

// The fixed parts of a conversation: the system prompt, the tools, the
// task, the reminder and the assistant's summaries.

func systemPrompt(r *rand.Rand, p *project) string {
	var b strings.Builder
	b.WriteString(`You are an interactive coding agent that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.

IMPORTANT: Refuse to write code or explain code that may be used maliciously. Never generate or guess URLs for the user unless you are confident they help with programming.

# Tone and style
You should be concise, direct, and to the point. When you run a non-trivial command, explain what it does and why you are running it, to make sure the user understands what you are doing.
Your output will be displayed on a command line interface. Your responses can use GitHub-flavored markdown for formatting, rendered in a monospace font.
Output text to communicate with the user; all text you output outside of tool use is displayed to the user. Only use tools to complete tasks.

# Proactiveness
You are allowed to be proactive, but only when the user asks you to do something. Strike a balance between:
- Doing the right thing when asked, including taking actions and follow-up actions
- Not surprising the user with actions you take without asking

# Following conventions
When making changes to files, first understand the file's code conventions. Mimic code style, use existing libraries and utilities, and follow existing patterns.
- NEVER assume that a given library is available, even if it is well known. Check that this codebase already uses it: look at neighboring files, or check the package.json (or go.mod, cargo.toml, and so on depending on the language).
- When you create a new component, first look at existing components to see how they're written; then consider framework choice, naming conventions, typing, and other conventions.
- Always follow security best practices. Never introduce code that exposes or logs secrets and keys. Never commit secrets or keys to the repository.

# Doing tasks
The user will primarily request you perform software engineering tasks: solving bugs, adding new functionality, refactoring code, explaining code, and more. For these tasks:
1. Use the search tools to understand the codebase and the user's query. Use them extensively, both in parallel and sequentially.
2. Implement the solution using all tools available to you.
3. Verify the solution with tests. NEVER assume a specific test framework or test script: check the README or search the codebase to find the testing approach.
4. VERY IMPORTANT: When you have completed a task, run the lint and typecheck commands (for example npm run lint, npm run typecheck, go vet ./...) to ensure your code is correct.

# Tool usage policy
- When doing a file search, prefer the grep tool to reduce context usage.
- You can call multiple tools in a single response. When multiple independent pieces of information are requested, batch your tool calls together for optimal performance.
- Read a file before you edit it; edit_file fails unless old_string matches the file exactly, including indentation.

Here is an example of a good answer after a fix:

` + "```" + `
user: the ledger test fails
assistant: [runs the tests, reads ledger.go, edits Settle]
The reservation was released twice when the upstream failed after the first byte.
Fixed in internal/ledger/ledger.go:142 and covered by TestSettleTwice.
` + "```" + `

# Task management
You have access to a todo list. Use it VERY frequently to make sure that you are tracking your tasks and giving the user visibility into your progress. It is also extremely helpful for planning tasks and for breaking down larger complex tasks into smaller steps. If you do not use it when planning, you may forget important tasks, and that is unacceptable.
It is critical that you mark todos as completed as soon as you are done with a task. Do not batch up multiple tasks before marking them as completed.

# Committing changes with git
Only create commits when requested by the user. If unclear, ask first. When the user asks you to create a new git commit, follow these steps carefully:
1. Run git status to see all untracked files, git diff to see both staged and unstaged changes, and git log to see recent commit messages so that you can follow this repository's commit message style.
2. Analyze all staged changes (both previously staged and newly added) and draft a commit message: summarize the nature of the changes (new feature, enhancement, bug fix, refactoring, test, docs), check for any sensitive information that shouldn't be committed, and draft a concise (1-2 sentences) message that focuses on the "why" rather than the "what".
3. Add relevant untracked files to the staging area, create the commit, and run git status to make sure it succeeded.
4. If the commit fails due to pre-commit hook changes, retry the commit ONCE to include these automated changes. If it fails again, it usually means a pre-commit hook is preventing the commit.
Important notes:
- NEVER update the git config
- NEVER run additional commands to read or explore code, besides git bash commands
- DO NOT push to the remote repository unless the user explicitly asks you to do so
- IMPORTANT: Never use git commands with the -i flag (like git rebase -i or git add -i) since they require interactive input which is not supported.

# Code references
When referencing specific functions or pieces of code include the pattern file_path:line_number to allow the user to easily navigate to the source code location.

`)
	fmt.Fprintf(&b, "Here is useful information about the environment you are running in:\n<env>\nWorking directory: /home/dev/%s\nIs directory a git repo: Yes\nPlatform: linux\nOS Version: Linux 6.8.0-%d-generic\nToday's date: 2026-%02d-%02d\n</env>\n", p.name, between(r, 30, 90), between(r, 1, 12), between(r, 1, 28))
	fmt.Fprintf(&b, "\ngitStatus: This is the git status at the start of the conversation.\nCurrent branch: %s\n\nMain branch (you will usually use this for PRs): main\n\nRecent commits:\n", p.branch)
	for range 5 {
		fmt.Fprintf(&b, "%s %s\n", randomString(r, "0123456789abcdef", 7), strings.TrimSuffix(sentence(r, between(r, 4, 9)), "."))
	}
	return b.String()
}

// usageNotes is the policy text every tool description ends with, as
// agents repeat it per tool.
const usageNotes = `

Usage notes:
- The tool runs in the user's working directory; paths outside it need the user's approval.
- Results over 30000 characters are truncated; narrow the request rather than reading everything.
- You can call multiple tools in a single response. If you intend to call multiple tools and there are no dependencies between them, make all independent calls in parallel.
- Never use this tool to exfiltrate secrets, credentials or keys, and never echo them in your answer.`

func tools() []canon.Tool {
	ts := toolList()
	for i := range ts {
		ts[i].Description += usageNotes
	}
	return ts
}

func toolList() []canon.Tool {
	return []canon.Tool{
		{Name: "read_file", Description: "Reads a file from the local filesystem. The path parameter must be an absolute path. By default it reads up to 2000 lines starting from the beginning of the file. Results are returned using cat -n format, with line numbers starting at 1. Lines longer than 2000 characters are truncated. You can call multiple tools in a single response: it is always better to speculatively read multiple files as a batch that are potentially useful.",
			Schema: `{"type":"object","properties":{"path":{"type":"string","description":"The absolute path to the file to read"},"offset":{"type":"number","description":"The line number to start reading from. Only provide if the file is too large to read at once"},"limit":{"type":"number","description":"The number of lines to read. Only provide if the file is too large to read at once."}},"required":["path"],"additionalProperties":false}`},
		{Name: "edit_file", Description: "Performs exact string replacements in files. You must read the file at least once before editing. When editing text from read_file output, preserve the exact indentation (tabs/spaces) as it appears AFTER the line number prefix: the prefix is spaces + line number + tab, and everything after that tab is the actual file content. Never include any part of the line number prefix in old_string or new_string. The edit fails if old_string is not unique in the file; provide a larger string with more surrounding context to make it unique.",
			Schema: `{"type":"object","properties":{"path":{"type":"string","description":"The absolute path to the file to modify"},"old_string":{"type":"string","description":"The text to replace"},"new_string":{"type":"string","description":"The text to replace it with (must be different from old_string)"},"replace_all":{"type":"boolean","default":false,"description":"Replace all occurrences of old_string"}},"required":["path","old_string","new_string"],"additionalProperties":false}`},
		{Name: "write_file", Description: "Writes a file to the local filesystem, overwriting the existing file if there is one. If this is an existing file, you MUST use read_file first. ALWAYS prefer editing existing files in the codebase. NEVER write new files unless explicitly required.",
			Schema: `{"type":"object","properties":{"path":{"type":"string","description":"The absolute path to the file to write"},"content":{"type":"string","description":"The content to write to the file"}},"required":["path","content"],"additionalProperties":false}`},
		{Name: "run_tests", Description: "Runs the project's tests with the given command in the working directory and returns their combined output. Prefer running one package or file first; run the whole suite before finishing. Output over 30000 characters is truncated.",
			Schema: `{"type":"object","properties":{"command":{"type":"string","description":"The test command, e.g. go test ./... or npx vitest run"},"timeout":{"type":"number","description":"Optional timeout in milliseconds (max 600000)"}},"required":["command"],"additionalProperties":false}`},
		{Name: "grep", Description: "A powerful search tool built on ripgrep. Supports full regex syntax (e.g. \"log.*Error\", \"function\\s+\\w+\"). Filter files with the glob parameter. Output modes: \"content\" shows matching lines, \"files_with_matches\" shows only file paths (default), \"count\" shows match counts.",
			Schema: `{"type":"object","properties":{"pattern":{"type":"string","description":"The regular expression pattern to search for in file contents"},"path":{"type":"string","description":"File or directory to search in. Defaults to current working directory."},"glob":{"type":"string","description":"Glob pattern to filter files (e.g. \"*.js\", \"*.{ts,tsx}\")"},"output_mode":{"type":"string","enum":["content","files_with_matches","count"]},"-n":{"type":"boolean","description":"Show line numbers in output"}},"required":["pattern"],"additionalProperties":false}`},
		{Name: "list_files", Description: "Lists files and directories in a given path. The path parameter must be an absolute path, not a relative path. You can optionally provide an array of glob patterns to ignore. Prefer the grep tool if you know which directories to search.",
			Schema: `{"type":"object","properties":{"path":{"type":"string","description":"The absolute path to the directory to list"},"ignore":{"type":"array","items":{"type":"string"},"description":"List of glob patterns to ignore"}},"required":["path"],"additionalProperties":false}`},
		{Name: "bash", Description: "Executes a given bash command in a persistent shell session with optional timeout, ensuring proper handling and security measures. Before executing the command, verify the parent directory exists. Always quote file paths that contain spaces with double quotes. Avoid search commands like find and grep: use the grep and list_files tools instead. Avoid read tools like cat, head and tail: use read_file. When issuing multiple commands, separate them with ; or &&, never newlines.",
			Schema: `{"type":"object","properties":{"command":{"type":"string","description":"The command to execute"},"timeout":{"type":"number","description":"Optional timeout in milliseconds (max 600000)"},"description":{"type":"string","description":"Clear, concise description of what this command does in 5-10 words"}},"required":["command"],"additionalProperties":false}`},
		{Name: "fetch", Description: "Fetches content from a URL and returns it; JSON responses are returned as received. HTTP URLs are upgraded to HTTPS. Results may be summarized if the content is very large. Use it for API documentation and for checking responses of services the project talks to.",
			Schema: `{"type":"object","properties":{"url":{"type":"string","format":"uri","description":"The URL to fetch content from"},"prompt":{"type":"string","description":"What to extract from the fetched content"}},"required":["url"],"additionalProperties":false}`},
	}
}

func task(r *rand.Rand, p *project, failing map[string]bool) string {
	var names []string
	for _, t := range p.tests {
		if failing[t] {
			names = append(names, t)
		}
	}
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("The tests in %s are failing since the last refactor (%s). Find out why and fix them without changing the public API. Run the whole suite before you finish.", p.name, strings.Join(names, ", "))
	case 1:
		return fmt.Sprintf("I need the %s to %s %ss in batches instead of one at a time. Keep the existing tests passing (some already fail: %s, fix those too) and add tests for the batching.", pick(r, nouns), pick(r, verbs), pick(r, nouns), strings.Join(names, ", "))
	default:
		return fmt.Sprintf("%s is flaky in CI. Investigate, fix the root cause, and tell me what was wrong.", names[0])
	}
}

func agentsReminder(r *rand.Rand, p *project) string {
	var b strings.Builder
	b.WriteString("<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# AGENTS.md\n\nContents of /home/dev/" + p.name + "/AGENTS.md (project instructions, checked into the codebase):\n\n")
	fmt.Fprintf(&b, "## Build and test\n\n- `%s` builds everything\n- `%s` runs the unit tests; they must pass offline\n- Run the linter before you commit: `%s`\n\n", pick(r, []string{"make build", "npm run build"}), pick(r, []string{"make test", "npm test", "go test ./..."}), pick(r, []string{"make lint", "npm run lint", "golangci-lint run"}))
	b.WriteString("## Style\n\n")
	for range between(r, 5, 10) {
		fmt.Fprintf(&b, "- %s\n", sentence(r, between(r, 8, 20)))
	}
	b.WriteString("\nIMPORTANT: this context may or may not be relevant to your tasks. You should not respond to this context unless it is highly relevant to your task.\n</system-reminder>\n")
	return b.String()
}

func summary(r *rand.Rand, p *project) string {
	var b strings.Builder
	b.WriteString("Done. Here's what I changed:\n\n")
	for range between(r, 2, 4) {
		fmt.Fprintf(&b, "- **%s**: %s\n", pick(r, p.sorted), sentence(r, between(r, 8, 18)))
	}
	b.WriteString("\nThe relevant part now reads:\n\n```go\nif n > limit {\n\treturn 0, fmt.Errorf(\"over limit: %d > %d\", n, limit)\n}\n```\n\nAll tests pass.")
	return b.String()
}
