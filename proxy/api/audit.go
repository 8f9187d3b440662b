package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/store"
)

// The audit log of admin actions under /api/v1/admin/audit. Every change
// the admin API makes (keys create, patch, revoke; accounts create,
// top-up, credits, plan) is recorded after it succeeds: who made it (the
// request's principal), what, when, and the record before and after, in
// the shapes the API answers with, which never hold a secret or a key
// hash.

// audit records an admin action of r on target; before and after are
// the record's views (nil: none).
func (a *API) audit(r *request, action, target string, before, after any) error {
	e := store.AuditEntry{Time: r.now.UTC(), Principal: r.who.Name, Action: action, Target: target}
	var err error
	if e.Before, err = auditJSON(before); err != nil {
		return err
	}
	if e.After, err = auditJSON(after); err != nil {
		return err
	}
	if _, err := a.store.AppendAudit(e); err != nil {
		return fmt.Errorf("%s %q was made, but: %w", action, target, err)
	}
	return nil
}

// auditJSON encodes a record's view for the audit log; nil is "".
func auditJSON(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case *keyJSON:
		if v == nil {
			return "", nil
		}
	case *accountJSON:
		if v == nil {
			return "", nil
		}
	}
	b, err := apiJSON.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("cannot encode an audit record: %w", err)
	}
	return string(b), nil
}

// keyView is the answer's view of key id, or nil when there is none.
func (a *API) keyView(id string) *keyJSON {
	k, err := a.store.KeyByID(id)
	if err != nil {
		return nil
	}
	v := newKeyJSON(&k)
	return &v
}

// accountView is the answer's view of account id at r's time, or nil
// when there is none.
func (a *API) accountView(r *request, id string) *accountJSON {
	acc, err := a.store.Account(id)
	if err != nil {
		return nil
	}
	v := a.newAccountJSON(&acc, r.now)
	return &v
}

// listAudit answers GET /api/v1/admin/audit?limit=&cursor=: the audit
// log newest first, limit 1-500 (default 50) a page:
// {"object":"list","data":[entry...],"next_cursor":"..."|null}.
func (a *API) listAudit(r *request) error {
	args := r.ctx.QueryArgs()
	limit := 0
	if v := args.Peek("limit"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 500 {
			return fmt.Errorf("%w: limit: want an integer from 1 to 500, got %q", ErrBadRequest, v)
		}
		limit = n
	}
	entries, next, err := a.store.Audit(limit, string(args.Peek("cursor")))
	if err != nil {
		return err
	}
	page := auditPageJSON{Object: "list", Data: make([]auditEntryJSON, len(entries)), NextCursor: orNull(next)}
	for i, e := range entries {
		page.Data[i] = auditEntryJSON{
			ID: e.ID, Time: e.Time, Principal: e.Principal, Action: e.Action, Target: e.Target,
			Before: rawOrNull(e.Before), After: rawOrNull(e.After),
		}
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, page)
}

// auditPageJSON is a page of the audit log.
type auditPageJSON struct {
	Object     string           `json:"object"`
	Data       []auditEntryJSON `json:"data"`
	NextCursor *string          `json:"next_cursor"`
}

// auditEntryJSON is one admin action in an answer. Before and After are
// the record (a key or an account) as the API answers it, null for none.
type auditEntryJSON struct {
	ID        string          `json:"id"`
	Time      time.Time       `json:"time"`
	Principal string          `json:"principal"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

// rawOrNull is stored JSON as a raw value, nil (null) for "".
func rawOrNull(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
