-- Keys, accounts, the ledger, the audit log and the per-node credit
-- leases of the postgres backend. Money is integer nano-dollars, times
-- are unix nanoseconds (0 = none), as in the embedded store.

CREATE TABLE accounts (
	id           text PRIMARY KEY,
	credits      bigint NOT NULL DEFAULT 0,
	plan         text   NOT NULL DEFAULT '',
	plan_price   bigint NOT NULL DEFAULT 0,
	plan_period  bigint NOT NULL DEFAULT 0,
	plan_since   bigint NOT NULL DEFAULT 0,
	period_start bigint NOT NULL DEFAULT 0,
	period_end   bigint NOT NULL DEFAULT 0,
	plan_used    bigint NOT NULL DEFAULT 0,
	spent        bigint NOT NULL DEFAULT 0,
	topped_up    bigint NOT NULL DEFAULT 0
);

-- A top-up's idempotency key, so that a replay changes nothing.
CREATE TABLE topups (
	idem    text PRIMARY KEY,
	account text   NOT NULL,
	amount  bigint NOT NULL,
	at      bigint NOT NULL
);

-- record is the store's binary key record (store.AppendKeyRecord).
CREATE TABLE keys (
	id      text  PRIMARY KEY,
	hash    bytea NOT NULL UNIQUE,
	account text  NOT NULL,
	record  bytea NOT NULL
);

-- One row per served request; record is the store's binary entry record
-- (store.AppendEntryRecord) with paid_by_plan as charged here. node is
-- the gateway that served it.
CREATE TABLE ledger (
	request_id   text PRIMARY KEY,
	at           bigint NOT NULL,
	account      text   NOT NULL,
	key_id       text   NOT NULL,
	cost         bigint NOT NULL,
	paid_by_plan bigint NOT NULL,
	node         text   NOT NULL,
	record       bytea  NOT NULL
);
CREATE INDEX ledger_account_at ON ledger (account, at, request_id);
CREATE INDEX ledger_at ON ledger (at, request_id);
CREATE INDEX ledger_key_at ON ledger (key_id, at);

-- The credit each node holds of each account and has not yet spent.
CREATE TABLE leases (
	node    text   NOT NULL,
	account text   NOT NULL,
	amount  bigint NOT NULL CHECK (amount >= 0),
	PRIMARY KEY (node, account)
);

CREATE SEQUENCE audit_seq;
CREATE TABLE audit (
	id        text   PRIMARY KEY, -- hex of (at, seq), both 8 bytes big-endian: sorts by time
	at        bigint NOT NULL,
	principal text   NOT NULL,
	action    text   NOT NULL,
	target    text   NOT NULL,
	before    text   NOT NULL,
	after     text   NOT NULL
);
