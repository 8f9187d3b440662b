package store

import (
	"errors"
	"fmt"
	"strings"
	"switchboard/store/money"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// settleEntries settles entries for account "team", one reservation
// each at the entry's time.
func settleEntries(t testing.TB, s *Store, entries []Entry) {
	t.Helper()
	if err := s.TopUp("team", 1000*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		r, err := s.Reserve("team", e.KeyID, e.RequestID, money.Dollar, e.Time)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(r, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
}

// usageEntries are six calls over two days by two keys, users and
// models, some tagged.
func usageEntries() []Entry {
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	e := func(id string, at time.Duration, key, model, user, tags string, cost money.Money) Entry {
		return Entry{RequestID: id, Time: day.Add(at), KeyID: key, ModelRequested: model, Provider: "mock",
			User: user, Session: "s-" + user, Tags: tags, InputTokens: 10, OutputTokens: 1, Cost: cost, Status: 200}
	}
	return []Entry{
		e("r1", 1*time.Hour, "sk-sb-aaaaaa", "gpt-4o", "alice", "team-a,nightly", 100),
		e("r2", 1*time.Hour+5*time.Minute, "sk-sb-aaaaaa", "gpt-4o", "alice", "team-a", 200),
		e("r3", 2*time.Hour, "sk-sb-bbbbbb", "claude", "bob", "", 400),
		e("r4", 25*time.Hour, "sk-sb-aaaaaa", "claude", "alice", "nightly", 800),
		e("r5", 26*time.Hour, "sk-sb-bbbbbb", "gpt-4o", "bob", "", 1600),
		e("r6", 49*time.Hour, "sk-sb-bbbbbb", "gpt-4o", "bob", "", 3200), // outside the range below
	}
}

func TestUsageGroupsByDimensionsAndBuckets(t *testing.T) {
	s, _ := openTest(t)
	settleEntries(t, s, usageEntries())
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	f := func(q UsageQuery, want string) {
		t.Helper()
		q.From, q.To = day, day.Add(48*time.Hour)
		rows, err := s.Usage(q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			row := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%d|%d|%d|%d", "", r.KeyID, r.Model, r.Provider, r.User, r.Session, r.Tag, r.Requests, r.InputTokens, r.OutputTokens, r.Cost)
			if !r.Bucket.IsZero() {
				row = r.Bucket.Format("01-02T15") + row
			}
			got = append(got, row)
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("Usage(%+v) =\n%s\nwant\n%s", q, g, want)
		}
	}
	f(UsageQuery{}, "|||||||5|50|5|3100")
	f(UsageQuery{GroupBy: DimModel, Bucket: 24 * time.Hour},
		"12-06T00||claude|||||1|10|1|400 12-06T00||gpt-4o|||||2|20|2|300 12-07T00||gpt-4o|||||1|10|1|1600 12-07T00||claude|||||1|10|1|800")
	f(UsageQuery{GroupBy: DimKey | DimUser},
		"|sk-sb-bbbbbb|||bob|||2|20|2|2000 |sk-sb-aaaaaa|||alice|||3|30|3|1100")
	f(UsageQuery{GroupBy: DimTag}, // an entry counts under each of its tags
		"|||||||2|20|2|2000 ||||||nightly|2|20|2|900 ||||||team-a|2|20|2|300")
	f(UsageQuery{GroupBy: DimSession | DimProvider, KeyID: "sk-sb-aaaaaa"},
		"|||mock||s-alice||3|30|3|1100")
	f(UsageQuery{GroupBy: DimModel, Bucket: time.Hour, KeyID: "sk-sb-aaaaaa"},
		"12-06T01||gpt-4o|||||2|20|2|300 12-07T01||claude|||||1|10|1|800")

	if _, err := s.Usage(UsageQuery{GroupBy: DimTag, MaxRows: 2}); !errors.Is(err, ErrTooManyRows) {
		t.Errorf("more rows than MaxRows: %v", err)
	}
	if _, err := s.Usage(UsageQuery{Bucket: time.Minute}); err == nil {
		t.Errorf("a 1m bucket was accepted")
	}
}

func TestParseDimensions(t *testing.T) {
	if d, err := ParseDimensions("model, key,tag"); err != nil || d != DimModel|DimKey|DimTag {
		t.Errorf("ParseDimensions = %v, %v", d, err)
	}
	if _, err := ParseDimensions("model,team"); err == nil || !strings.Contains(err.Error(), `"team"`) {
		t.Errorf("unknown dimension: %v", err)
	}
}

func TestRequestsFiltersAndPages(t *testing.T) {
	s, _ := openTest(t)
	entries := usageEntries()
	entries[2].Status, entries[3].CacheHit = 502, true
	settleEntries(t, s, entries)
	hit, miss := true, false
	f := func(q RequestQuery, want string) {
		t.Helper()
		var got []string
		for pages := 0; ; pages++ {
			page, next, err := s.Requests(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				got = append(got, e.RequestID)
			}
			if next == "" {
				break
			}
			if pages > 10 || q.Limit != 0 && len(page) != q.Limit {
				t.Fatalf("page of %d with a next cursor", len(page))
			}
			q.Cursor = next
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("Requests(%+v) = %q, want %q", q, g, want)
		}
	}
	f(RequestQuery{}, "r6 r5 r4 r3 r2 r1")
	f(RequestQuery{Limit: 4}, "r6 r5 r4 r3 r2 r1")
	f(RequestQuery{Limit: 1, KeyID: "sk-sb-aaaaaa"}, "r4 r2 r1")
	f(RequestQuery{Model: "claude"}, "r4 r3")
	f(RequestQuery{User: "bob", Status: 200}, "r6 r5")
	f(RequestQuery{Session: "s-alice", CacheHit: &hit}, "r4")
	f(RequestQuery{CacheHit: &miss, Provider: "mock", Limit: 2}, "r6 r5 r3 r2 r1")
	f(RequestQuery{Provider: "other"}, "")
	f(RequestQuery{From: entries[1].Time, To: entries[4].Time}, "r4 r3 r2")

	page, _, err := s.Requests(RequestQuery{Limit: 1})
	if err != nil || len(page) != 1 {
		t.Fatalf("one entry: %+v, %v", page, err)
	}
	want := entries[5]
	want.Account = "team"
	if e := page[0]; !e.Time.Equal(want.Time) || func() bool { e.Time = want.Time; return e != want }() {
		t.Errorf("entry\n%+v, want\n%+v", page[0], want)
	}
	if _, _, err := s.Requests(RequestQuery{Cursor: "!!"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

// TestOpenIndexesAnOlderLedgerByTime: a store written before the ledger
// had its time-ordered copies gets them on Open, and usage sees its
// entries.
func TestOpenIndexesAnOlderLedgerByTime(t *testing.T) {
	s, dir := openTest(t)
	settleEntries(t, s, usageEntries())
	err := s.read(func() error {
		b := s.db.NewBatch()
		_ = b.DeleteRange(ledgerTimePrefix, prefixEnd(ledgerTimePrefix), nil)
		_ = b.Delete(ledgerTimeIndexed, nil)
		return b.Commit(pebble.Sync)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := s.Usage(UsageQuery{}); err != nil || len(rows) != 0 {
		t.Fatalf("usage of the stripped store: %+v, %v", rows, err)
	}
	s = reopen(t, s, dir)
	rows, err := s.Usage(UsageQuery{})
	if err != nil || len(rows) != 1 || rows[0].Requests != 6 || rows[0].Cost != 6300 {
		t.Fatalf("usage after reopen: %+v, %v", rows, err)
	}
}
