package main

// The admin subcommands for scripts: switchboard keys create|list|revoke
// and switchboard accounts topup|show, which call a running gateway's
// admin API (/api/v1/admin) over HTTP with the master key. They print the
// API's answer (its "data") as one line of JSON on stdout, or with
// keys list a table; an error answer goes to stderr with its status and
// exits 1, bad usage exits 2.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const adminUsage = `Usage:
  switchboard keys create --account ID [--name NAME] [--models M1,M2] [--rpm N] [--tpm N]
                          [--daily-limit USD] [--monthly-limit USD] [--expires RFC3339] [--create-account]
  switchboard keys list [--account ID] [--json]
  switchboard keys revoke KEY_ID
  switchboard accounts topup ACCOUNT --amount USD [--idempotency-key K] [--create-account]
  switchboard accounts show ACCOUNT

They call a running gateway's admin API. keys create prints the new key
as JSON, its secret in "key" (shown this once); keys list prints a table
(--json: the API's JSON); the others print the key or account as JSON.
An error answer is printed to stderr and exits 1; bad usage exits 2.

Every command takes:
  --url URL   the gateway (default $SWITCHBOARD_URL, else http://127.0.0.1:8080)
  --key KEY   the master key (default $SWITCHBOARD_MASTER_KEY)
`

// adminCommand is one parsed admin subcommand, ready to send.
type adminCommand struct {
	base, key    string
	method, path string
	body         any
	table        bool // keys list without --json
}

// runAdmin runs "switchboard keys|accounts ..." with args after the
// program name; stdout gets the answer, stderr errors and help.
func runAdmin(args []string, stdout, stderr io.Writer) int {
	cmd, err := parseAdmin(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchboard: %v\n\n%s", err, adminUsage)
		return 2
	}
	status, data, err := cmd.send()
	if err != nil {
		fmt.Fprintf(stderr, "switchboard: %v\n", err)
		return 1
	}
	if status/100 != 2 {
		fmt.Fprintf(stderr, "switchboard: %s %s: %d: %s\n", cmd.method, cmd.path, status, data)
		return 1
	}
	if cmd.table {
		return printKeys(stdout, stderr, data)
	}
	fmt.Fprintf(stdout, "%s\n", data)
	return 0
}

// parseAdmin reads the subcommand, its flags (before or after its
// positional argument) and the environment.
func parseAdmin(args []string, stderr io.Writer) (*adminCommand, error) {
	if len(args) < 2 || args[1] == "-h" || args[1] == "--help" || args[1] == "help" {
		fmt.Fprint(stderr, adminUsage)
		if len(args) >= 2 {
			return nil, flag.ErrHelp
		}
		return nil, fmt.Errorf("%s: want a subcommand", args[0])
	}
	name := args[0] + " " + args[1]
	fs := flag.NewFlagSet("switchboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	base := fs.String("url", envOr("SWITCHBOARD_URL", "http://127.0.0.1:8080"), "the gateway's URL")
	key := fs.String("key", os.Getenv("SWITCHBOARD_MASTER_KEY"), "the master key")
	c := &adminCommand{}
	var positional func(id string) // sets the path from the one positional argument
	// The bodies and paths that depend on flags are built by defers,
	// which run once the flags are parsed.
	switch name {
	case "keys create":
		account := fs.String("account", "", "the account the key's calls are charged to (required)")
		keyName := fs.String("name", "", "a label for the key")
		models := fs.String("models", "", "comma-separated model strings the key may call (default all)")
		rpm := fs.Int("rpm", 0, "requests per minute (0 = no limit)")
		tpm := fs.Int("tpm", 0, "tokens per minute (0 = no limit)")
		daily := fs.String("daily-limit", "", "daily spending limit in dollars")
		monthly := fs.String("monthly-limit", "", "monthly spending limit in dollars")
		expires := fs.String("expires", "", "expiry, RFC 3339")
		create := fs.Bool("create-account", false, "create the account if it does not exist")
		defer func() {
			body := map[string]any{"account": *account}
			if *keyName != "" {
				body["name"] = *keyName
			}
			if *models != "" {
				body["allowed_models"] = strings.Split(*models, ",")
			}
			if *rpm != 0 {
				body["rpm"] = *rpm
			}
			if *tpm != 0 {
				body["tpm"] = *tpm
			}
			if *daily != "" {
				body["daily_limit"] = *daily
			}
			if *monthly != "" {
				body["monthly_limit"] = *monthly
			}
			if *expires != "" {
				body["expires_at"] = *expires
			}
			if *create {
				body["create_account"] = true
			}
			c.body = body
		}()
		c.method, c.path = "POST", "/keys"
	case "keys list":
		account := fs.String("account", "", "only this account's keys")
		asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
		c.method = "GET"
		defer func() {
			c.path, c.table = "/keys", !*asJSON
			if *account != "" {
				c.path += "?account=" + url.QueryEscape(*account)
			}
		}()
	case "keys revoke":
		c.method = "DELETE"
		positional = func(id string) { c.path = "/keys/" + url.PathEscape(id) }
	case "accounts topup":
		amount := fs.String("amount", "", "dollars to add, such as 10.50 (required)")
		idem := fs.String("idempotency-key", "", "a replay with the same key changes nothing")
		create := fs.Bool("create-account", false, "create the account if it does not exist")
		c.method = "POST"
		positional = func(id string) { c.path = "/accounts/" + url.PathEscape(id) + "/topup" }
		defer func() {
			body := map[string]any{"amount": *amount}
			if *idem != "" {
				body["idempotency_key"] = *idem
			}
			if *create {
				body["create_account"] = true
			}
			c.body = body
		}()
	case "accounts show":
		c.method = "GET"
		positional = func(id string) { c.path = "/accounts/" + url.PathEscape(id) }
	default:
		return nil, fmt.Errorf("unknown command %q", name)
	}
	rest, err := parseInterleaved(fs, args[2:])
	if err != nil {
		return nil, err
	}
	switch {
	case positional == nil && len(rest) > 0:
		return nil, fmt.Errorf("%s: unexpected argument %q", name, rest[0])
	case positional != nil && len(rest) != 1:
		return nil, fmt.Errorf("%s: want one id, got %d arguments", name, len(rest))
	case positional != nil:
		positional(rest[0])
	}
	c.base, c.key = strings.TrimSuffix(*base, "/"), *key
	if c.key == "" {
		return nil, fmt.Errorf("%s: no master key: pass --key or set SWITCHBOARD_MASTER_KEY", name)
	}
	if name == "keys create" && fs.Lookup("account").Value.String() == "" {
		return nil, fmt.Errorf("%s: --account is required", name)
	}
	if name == "accounts topup" && fs.Lookup("amount").Value.String() == "" {
		return nil, fmt.Errorf("%s: --amount is required", name)
	}
	return c, nil
}

// parseInterleaved parses flags that may come before and after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest, args = append(rest, args[0]), args[1:]
	}
}

// envOr is the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// send makes the call and returns the answer's status and, for a success,
// its "data" (else the error message, or the body).
func (c *adminCommand) send() (int, []byte, error) {
	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.method, c.base+"/api/v1/admin"+c.path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("--url %q: %v", c.base, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot reach the gateway: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read the answer: %v", err)
	}
	var answer struct {
		Data  json.RawMessage `json:"data"`
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &answer)
	switch {
	case resp.StatusCode/100 == 2 && answer.Data != nil:
		return resp.StatusCode, answer.Data, nil
	case answer.Error.Message != "":
		return resp.StatusCode, []byte(answer.Error.Message), nil
	}
	return resp.StatusCode, bytes.TrimSpace(b), nil
}

// printKeys prints the keys of a list answer as a table.
func printKeys(stdout, stderr io.Writer, data []byte) int {
	var keys []struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		Account   string    `json:"account"`
		Revoked   bool      `json:"revoked"`
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal(data, &keys); err != nil {
		fmt.Fprintf(stderr, "switchboard: cannot read the key list: %v\n", err)
		return 1
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tACCOUNT\tREVOKED\tCREATED")
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", k.ID, k.Name, k.Account, k.Revoked, k.CreatedAt.Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		return 1
	}
	return 0
}
