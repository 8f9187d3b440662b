package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"switchboard/store/money"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestLedgerScript runs the ledger sequences in testdata/ledger, a
// datadriven command file: top-ups, plans, reservations, settles,
// replays, crashes and queries. Each command is "name key=value...",
// "----" and the expected output; go test ./store -run LedgerScript
// -rewrite rewrites the expected output.
func TestLedgerScript(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	open := map[string]*Reservation{}
	cursor := ""

	// arg returns the value of key=value, failing the test when it is
	// missing; opt returns "" instead.
	arg := func(t *testing.T, d *datadriven.TestData, key string) string {
		var v string
		d.ScanArgs(t, key, &v)
		return v
	}
	opt := func(t *testing.T, d *datadriven.TestData, key string) string {
		var v string
		d.MaybeScanArgs(t, key, &v)
		return v
	}
	amount := func(t *testing.T, d *datadriven.TestData, key string) money.Money {
		m, err := money.Parse(arg(t, d, key))
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return m
	}
	at := func(t *testing.T, d *datadriven.TestData, key string) time.Time {
		v := opt(t, d, key)
		if v == "" || v == "all" {
			return time.Time{}
		}
		tm, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return tm
	}
	num := func(t *testing.T, d *datadriven.TestData, key string) int64 {
		v := opt(t, d, key)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return n
	}
	result := func(err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	}
	flush := func(t *testing.T) {
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	datadriven.RunTest(t, "testdata/ledger", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "topup":
			return result(s.TopUp(arg(t, d, "acct"), amount(t, d, "amount"), opt(t, d, "idem"), CreateAccount))
		case "credits":
			return result(s.SetCredits(arg(t, d, "acct"), amount(t, d, "amount"), CreateAccount))
		case "plan":
			period := Monthly
			if p := opt(t, d, "period"); p != "monthly" {
				if period, err = time.ParseDuration(p); err != nil {
					d.Fatalf(t, "%v", err)
				}
			}
			return result(s.AssignPlan(arg(t, d, "acct"), opt(t, d, "name"), amount(t, d, "price"), period, at(t, d, "at"), CreateAccount))
		case "reserve":
			// Settled holds are released by the group commit: flush so the
			// balance seen does not depend on the writer's timing.
			flush(t)
			id := arg(t, d, "id")
			r, err := s.Reserve(arg(t, d, "acct"), "", id, amount(t, d, "worst"), at(t, d, "at"))
			if err != nil {
				return result(err)
			}
			open[id] = r
			avail, _ := s.Available(r.Account, r.Time)
			return "ok, available " + avail.String()
		case "settle":
			id := arg(t, d, "id")
			e := Entry{
				KeyID:          opt(t, d, "key"),
				ModelRequested: opt(t, d, "model"),
				UpstreamModel:  opt(t, d, "upstream"),
				InputTokens:    num(t, d, "in"),
				OutputTokens:   num(t, d, "out"),
				Cost:           amount(t, d, "cost"),
				Status:         int(num(t, d, "status")),
				Time:           at(t, d, "at"),
			}
			return result(s.Settle(open[id], e))
		case "release":
			return result(s.Release(open[arg(t, d, "id")]))
		case "crash":
			// Close without settling what is open, and open again.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(dir); err != nil {
				t.Fatal(err)
			}
			clear(open)
			return ""
		case "kill":
			// kill -9: open a copy of the files as the OS has them now,
			// without Flush or Close; the old store then closes on its
			// own directory.
			killed := killCopy(t, dir)
			old := s
			if s, err = Open(killed); err != nil {
				t.Fatal(err)
			}
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			dir = killed
			clear(open)
			return ""
		case "account":
			flush(t)
			if len(d.CmdArgs) != 1 || len(d.CmdArgs[0].Vals) != 0 {
				d.Fatalf(t, "want account <name>")
			}
			a, err := s.Account(d.CmdArgs[0].Key)
			if err != nil {
				return result(err)
			}
			out := fmt.Sprintf("credits=%s spent=%s topped-up=%s", a.Credits, a.Spent, a.ToppedUp)
			if a.Plan != "" {
				out += fmt.Sprintf("\nplan=%s price=%s allowance=%s used=%s period=[%s, %s)", a.Plan, a.PlanPrice,
					a.PlanAllowance(), a.PlanUsed, a.PeriodStart.Format(time.RFC3339), a.PeriodEnd.Format(time.RFC3339))
			}
			return out
		case "available":
			flush(t)
			avail, err := s.Available(arg(t, d, "acct"), at(t, d, "at"))
			if err != nil {
				return result(err)
			}
			return avail.String()
		case "entries":
			flush(t)
			q := Query{From: at(t, d, "from"), To: at(t, d, "to"), Model: opt(t, d, "model"), KeyID: opt(t, d, "key"), Limit: int(num(t, d, "limit"))}
			if c := opt(t, d, "cursor"); c == "next" {
				q.Cursor = cursor
			} else {
				q.Cursor = c
			}
			entries, next, err := s.Entries(arg(t, d, "acct"), q)
			if err != nil {
				return result(err)
			}
			var b strings.Builder
			for _, e := range entries {
				fmt.Fprintf(&b, "%s %s key=%s model=%s cost=%s plan=%s status=%d", e.RequestID, e.Time.Format(time.RFC3339),
					e.KeyID, e.ModelRequested, e.Cost, e.PaidByPlan, e.Status)
				if e.Settled != "" {
					b.WriteString(" settled=" + e.Settled)
				}
				b.WriteString("\n")
			}
			cursor = next
			if next != "" {
				b.WriteString("more\n")
			}
			return b.String()
		case "spend":
			flush(t)
			return s.Spend(arg(t, d, "key"), at(t, d, "since")).String()
		}
		d.Fatalf(t, "unknown command %q", d.Cmd)
		return ""
	})
}

func TestEntriesFiltersAndPages(t *testing.T) {
	s, _ := openTest(t)
	if err := s.TopUp("team", 100*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	if err := s.TopUp("other", 100*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	models := []string{"gpt-4o", "claude-sonnet-4", "gemini-2.5-pro"}
	for i := range 30 {
		at := t0.Add(time.Duration(i) * time.Minute)
		r, err := s.Reserve("team", "", fmt.Sprintf("req-%02d", i), money.Dollar, at)
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{KeyID: fmt.Sprintf("sk-sb-key%03d", i%2), ModelRequested: models[i%3], Cost: money.Money(i) * money.Dollar / 100}
		if err := s.Settle(r, e); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := s.Reserve("other", "", "other-1", money.Dollar, t0)
	_ = s.Settle(r, Entry{ModelRequested: "gpt-4o"})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	ids := func(q Query) (string, int) {
		t.Helper()
		var got []string
		pages := 0
		for {
			page, next, err := s.Entries("team", q)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range page {
				got = append(got, strings.TrimPrefix(e.RequestID, "req-"))
			}
			if next == "" {
				return strings.Join(got, " "), pages
			}
			if len(page) != q.Limit && q.Limit != 0 {
				t.Fatalf("short page %d of %d with a next cursor", len(page), q.Limit)
			}
			q.Cursor = next
		}
	}
	f := func(q Query, want string, wantPages int) {
		t.Helper()
		got, pages := ids(q)
		if got != want || pages != wantPages {
			t.Errorf("Entries(%+v) = %q in %d pages, want %q in %d", q, got, pages, want, wantPages)
		}
	}
	min := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	f(Query{From: min(25)}, "29 28 27 26 25", 1)
	f(Query{From: min(25), Limit: 2}, "29 28 27 26 25", 3)
	f(Query{From: min(20), To: min(24)}, "23 22 21 20", 1)
	f(Query{From: min(20), To: min(24), Limit: 4}, "23 22 21 20", 1)
	f(Query{Model: "gemini-2.5-pro", Limit: 3}, "29 26 23 20 17 14 11 08 05 02", 4)
	f(Query{Model: "gpt-4o", KeyID: "sk-sb-key001", From: min(10)}, "27 21 15", 1)
	f(Query{To: min(3)}, "02 01 00", 1)
	f(Query{From: min(40)}, "", 1)
	f(Query{From: min(5), To: min(5)}, "", 1)
	all, pages := ids(Query{Limit: 7})
	if len(strings.Fields(all)) != 30 || pages != 5 {
		t.Errorf("all entries: %q in %d pages", all, pages)
	}
	if got, _, _ := s.Entries("team", Query{Limit: 5000}); len(got) != 30 {
		t.Errorf("limit above the maximum: %d entries", len(got))
	}

	if _, _, err := s.Entries("team", Query{Cursor: "!!"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, _, err := s.Entries("team", Query{Cursor: "AAAA"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("short cursor: %v", err)
	}
	if _, _, err := s.Entries("", Query{}); err == nil {
		t.Errorf("empty account accepted")
	}
	e, err := s.Entry("req-07")
	if err != nil || e.Account != "team" || e.Cost != 7*money.Dollar/100 || !e.Time.Equal(min(7)) {
		t.Errorf("Entry(req-07) = %+v, %v", e, err)
	}
	if _, err := s.Entry("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Entry(nope) = %v", err)
	}
}

func TestEntryRecordRoundTrip(t *testing.T) {
	e := Entry{
		RequestID: "req-1", Time: t0, KeyID: "sk-sb-abcdef", Account: "team",
		ModelRequested: "claude-sonnet-4", Provider: "anthropic", UpstreamModel: "claude-sonnet-4-20250514",
		InputTokens: 12000, OutputTokens: 800, CacheReadTokens: 90000, CacheWriteTokens: 3000, ReasoningTokens: 200,
		CostInput: 36000000, CostOutput: 12000000, CostCacheRead: 0, CostCacheWrite: 11250000, Cost: 59250000,
		PaidByPlan: 1, LatencyMicros: 812345, OverheadMicros: 17, Status: 200, CacheHit: true, Settled: "",
		CompressedTokens: 4200, Attempts: 2, FallbackReason: "openai/gpt-4o (429)",
		User: "alice@example.com", Session: "3f2a9c", Tags: "team-a,nightly",
		HedgeWasteTokens: 1500, HedgeWasteCost: 4500000,
	}
	v := appendEntry(nil, &e)
	got, err := decodeEntry(e.RequestID, v)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(e.Time) {
		t.Fatalf("time %s, want %s", got.Time, e.Time)
	}
	got.Time = e.Time
	if got != e {
		t.Fatalf("round trip:\n%+v\n%+v", got, e)
	}
	if len(v) > 200 {
		t.Errorf("entry record is %d bytes", len(v))
	}
	for n := range len(v) {
		if _, err := decodeEntry(e.RequestID, v[:n]); err == nil {
			t.Fatalf("decoding %d of %d bytes succeeded", n, len(v))
		}
	}
	v[0] = 9
	if _, err := decodeEntry(e.RequestID, v); err == nil || !strings.Contains(err.Error(), "unknown version 9") {
		t.Fatalf("unknown version: %v", err)
	}
}

// TestOlderEntryRecordsRead reads a v2 record that the gateway wrote
// before v3 (testdata/entry-v2.hex) and the v1 record it shortens to:
// the fields they lack read as zero.
func TestOlderEntryRecordsRead(t *testing.T) {
	text, err := os.ReadFile("testdata/entry-v2.hex")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{
		RequestID: "req-v2", Time: time.Date(2026, 11, 3, 14, 5, 6, 7000, time.UTC), KeyID: "sk-sb-abcdef", Account: "team",
		ModelRequested: "claude-sonnet-4", Provider: "anthropic", UpstreamModel: "claude-sonnet-4-20250514",
		InputTokens: 12000, OutputTokens: 800, CacheReadTokens: 90000, CacheWriteTokens: 3000, ReasoningTokens: 200,
		CostInput: 36000000, CostOutput: 12000000, CostCacheRead: 0, CostCacheWrite: 11250000, Cost: 59250000,
		PaidByPlan: 1, LatencyMicros: 812345, OverheadMicros: 17, Status: 200, CacheHit: true, Settled: "estimated",
		CompressedTokens: 4200,
	}
	got, err := decodeEntry("req-v2", v2)
	if err != nil || got != want {
		t.Fatalf("v2 record:\n%+v, %v\nwant\n%+v", got, err, want)
	}
	v1 := append([]byte{entryRecordV1}, v2[1:len(v2)-2]...) // 4200 is a 2-byte varint
	want.CompressedTokens = 0
	if got, err := decodeEntry("req-v2", v1); err != nil || got != want {
		t.Fatalf("v1 record:\n%+v, %v", got, err)
	}
	// A view decode into a used Entry leaves none of the newer fields.
	e := Entry{Attempts: 3, User: "u", Tags: "t", HedgeWasteTokens: 9, HedgeWasteCost: 9}
	if err := decodeEntryInto(&e, "req-v2", v1, true); err != nil || e != want {
		t.Fatalf("v1 record into a used entry:\n%+v, %v", e, err)
	}
}

// TestV3EntryRecordsRead: a v3 record, the v4 encoding without the
// hedge fields, reads with them zero; v4 adds them.
func TestV3EntryRecordsRead(t *testing.T) {
	want := Entry{
		RequestID: "req-v3", Time: t0, KeyID: "sk-sb-abcdef", Account: "team", ModelRequested: "m", Provider: "p",
		UpstreamModel: "m-1", InputTokens: 10, OutputTokens: 2, Cost: 300, Status: 200, Attempts: 2,
		FallbackReason: "p/m-0 (503)", User: "u", Session: "s", Tags: "a,b",
	}
	v4 := appendEntry(nil, &want)
	if v4[0] != entryRecordV4 || v4[len(v4)-2] != 0 || v4[len(v4)-1] != 0 { // two zero varints
		t.Fatalf("v4 record %x", v4)
	}
	v3 := append([]byte{entryRecordV3}, v4[1:len(v4)-2]...)
	e := Entry{HedgeWasteTokens: 7, HedgeWasteCost: 7} // a used entry
	if err := decodeEntryInto(&e, "req-v3", v3, false); err != nil {
		t.Fatal(err)
	}
	e.Time = want.Time
	if e != want {
		t.Fatalf("v3 record:\n%+v\nwant\n%+v", e, want)
	}
	want.HedgeWasteTokens, want.HedgeWasteCost = 1200, 3600
	got, err := decodeEntry("req-v3", appendEntry(nil, &want))
	got.Time = want.Time
	if err != nil || got != want {
		t.Fatalf("v4 record:\n%+v, %v", got, err)
	}
}

// FuzzDecodeRecords: no record decoder panics on damaged bytes, and a
// record that decodes re-encodes to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	e := Entry{RequestID: "r", Time: t0, Account: "a", Cost: 5, Status: 200}
	k := Key{ID: "sk-sb-abcdef", Hash: [32]byte{1}, Account: "a", AllowedModels: []string{"m"}}
	a := Account{ID: "a", Credits: 7, Plan: "pro", PlanSince: t0}
	f.Add(appendEntry(nil, &e))
	f.Add(appendUsageRecord(nil, &e))
	f.Add(appendKey(nil, &k))
	f.Add(appendAccount(nil, &a))
	f.Add(appendJournalRecord(nil, journalReserve, &Reservation{RequestID: "r", Account: "a", Worst: 3, Time: t0})[journalHeader:])
	f.Fuzz(func(t *testing.T, v []byte) {
		if e, err := decodeEntry("x", v); err == nil {
			limit := len(v)
			switch v[0] {
			case entryRecordV1:
				limit += 8 // re-encoded as v4, with CompressedTokens and 7 more fields
			case entryRecordV2:
				limit += 7
			case entryRecordV3:
				limit += 2
			}
			if got := appendEntry(nil, &e); len(got) > limit {
				t.Fatalf("entry re-encodes longer: %d > %d", len(got), len(v))
			}
		}
		var ue Entry
		if err := decodeUsageRecord(&ue, "x", t0, v); err == nil {
			if got := appendUsageRecord(nil, &ue); len(got) > len(v) {
				t.Fatalf("usage record re-encodes longer: %d > %d", len(got), len(v))
			}
		}
		_, _ = decodeAudit("x", v)
		_, _ = decodeKey("x", v)
		_, _ = decodeAccount("x", v)
		_, _ = decodeTopUp("x", v)
		_, _, _ = decodeJournalRecord(v)
		_, _ = decodeSpendRow([]byte("s/k\x00\x00\x00\x00\x01"), v)
	})
}
