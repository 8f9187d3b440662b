package store

import (
	"switchboard/store/money"
	"time"
)

// Backend is what the proxy and the admin and billing APIs need of the
// store: keys, accounts and balances, the ledger and the audit log. Two
// implementations: *Store, the embedded Pebble store of one node, and
// postgres.Store, which keeps them in PostgreSQL for several nodes and
// serves the request path from a per-node lease held in a local *Store.
//
// The request path (Reserve, Settle, Release, Available, Spend, Keys)
// reads and writes memory and the local journal only, on either backend;
// the admin calls may wait on disk or network.
type Backend interface {
	// Reserve, Settle and Release hold, bill and drop a request's worst
	// case (see Store.Reserve).
	Reserve(account, keyID, requestID string, worst money.Money, now time.Time) (*Reservation, error)
	Settle(r *Reservation, e Entry) error
	Release(r *Reservation) error
	// Available is what the account can still reserve at now.
	Available(id string, now time.Time) (money.Money, error)
	// Spend is what a key spent since since.
	Spend(keyID string, since time.Time) money.Money
	// SetUnlimited marks an account as never refused for credit.
	SetUnlimited(id string) error
	// Ready reports whether the backend serves; an error says why not.
	Ready() error
	// Degraded says why a backend that serves is not whole (a shared
	// database unreachable, entries waiting to reach it), or nil.
	Degraded() error
	// Flush waits until every entry settled before it is committed
	// where every node reads it.
	Flush() error

	Account(id string) (Account, error)
	Accounts() ([]Account, error)
	EnsureAccount(id string) error
	TopUp(id string, amount money.Money, idemKey string, missing IfMissing) error
	SetCredits(id string, amount money.Money, missing IfMissing) error
	AssignPlan(id, plan string, price money.Money, period time.Duration, now time.Time, missing IfMissing) error

	Keys() ([]Key, error)
	KeyByID(id string) (Key, error)
	CreateKey(k Key) error
	CreateKeyAndAccount(k Key) error
	UpdateKey(id string, fn func(*Key) error) error
	RevokeKey(id string) error

	Entry(requestID string) (Entry, error)
	Entries(account string, q Query) ([]Entry, string, error)
	Usage(q UsageQuery) ([]UsageRow, error)
	Requests(q RequestQuery) ([]Entry, string, error)

	AppendAudit(e AuditEntry) (string, error)
	Audit(limit int, cursor string) ([]AuditEntry, string, error)
}

var _ Backend = (*Store)(nil)
