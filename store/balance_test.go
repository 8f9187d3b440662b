package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"switchboard/store/money"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConcurrentReservesNeverOverspend: 200 goroutines reserve against a
// balance that covers 50 of them; exactly 50 get through.
func TestConcurrentReservesNeverOverspend(t *testing.T) {
	s, _ := openTest(t)
	worst := money.Dollar / 100
	if err := s.TopUp("team", 50*worst, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		granted []*Reservation
		refused int
	)
	start := make(chan struct{})
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := s.Reserve("team", "", fmt.Sprintf("req-%03d", i), worst, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				granted = append(granted, r)
			case errors.Is(err, ErrInsufficientCredit):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(granted) != 50 || refused != 150 {
		t.Fatalf("granted %d, refused %d; want 50 and 150", len(granted), refused)
	}
	for _, r := range granted {
		if err := s.Settle(r, Entry{Cost: worst}); err != nil {
			t.Fatal(err)
		}
	}
	if a := mustAccount(t, s, "team"); a.Credits != 0 {
		t.Fatalf("credits after settling all: %s", a.Credits)
	}
	if got, _ := s.Available("team", t0); got != 0 {
		t.Fatalf("available: %s", got)
	}
}

// TestConcurrentReserveSettleKeepsTheBooks: goroutines reserve, settle at
// a part of the worst case, release some, until the balance runs out.
// The balance never goes negative and always equals the top-up minus the
// sum of the entries.
func TestConcurrentReserveSettleKeepsTheBooks(t *testing.T) {
	s, dir := openTest(t)
	initial := 3 * money.Dollar
	if err := s.TopUp("team", initial, "init", CreateAccount); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%02d-%04d", g, i)
				worst := money.Money(1+(g*7+i)%10) * money.Dollar / 100
				r, err := s.Reserve("team", "", id, worst, t0)
				if errors.Is(err, ErrInsufficientCredit) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 4 {
					err = s.Release(r)
				} else {
					err = s.Settle(r, Entry{KeyID: "sk-sb-key001", Cost: worst * money.Money(i%3+1) / 3})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	a := mustAccount(t, s, "team")
	if a.Credits < 0 {
		t.Fatalf("overspent: credits %s", a.Credits)
	}
	if avail, _ := s.Available("team", t0); avail != a.Credits {
		t.Fatalf("available %s, credits %s: holds left over", avail, a.Credits)
	}
	entries := allEntries(t, s, "team")
	var sum money.Money
	for _, e := range entries {
		sum += e.Cost
	}
	if a.Credits != initial-sum || a.Spent != sum {
		t.Fatalf("credits %s, spent %s; entries sum to %s of %s", a.Credits, a.Spent, sum, initial)
	}
	if got := s.Spend("sk-sb-key001", t0); got != sum {
		t.Fatalf("key spend %s, want %s", got, sum)
	}
	s = reopen(t, s, dir)
	if b := mustAccount(t, s, "team"); b != a {
		t.Fatalf("reopen changed the account:\n%+v\n%+v", a, b)
	}
	if got := s.Spend("sk-sb-key001", t0); got != sum {
		t.Fatalf("key spend after reopen %s, want %s", got, sum)
	}
	if n := len(journalFiles(t, dir)); n != 1 {
		t.Fatalf("%d journal segments after a clean reopen, want the current one only", n)
	}
}

func allEntries(t *testing.T, s *Store, account string) []Entry {
	t.Helper()
	var all []Entry
	q := Query{Limit: maxPageSize}
	for {
		page, next, err := s.Entries(account, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		q.Cursor = next
	}
}

func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segmentPrefix+"*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReserveRefusals(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Reserve("ghost", "", "r1", 0, t0); !errors.Is(err, ErrInsufficientCredit) {
		t.Fatalf("unknown account: %v", err)
	}
	if err := s.TopUp("team", money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve("team", "", "r1", money.Dollar+1, t0); !errors.Is(err, ErrInsufficientCredit) {
		t.Fatalf("beyond the balance: %v", err)
	}
	if _, err := s.Reserve("team", "", "r1", -1, t0); err == nil {
		t.Fatal("negative worst case accepted")
	}
	if _, err := s.Reserve("team", "", "", 1, t0); err == nil {
		t.Fatal("empty request id accepted")
	}
	r, err := s.Reserve("team", "", "r1", money.Dollar, t0)
	if err != nil {
		t.Fatalf("exactly the balance: %v", err)
	}
	if _, err := s.Reserve("team", "", "r2", 1, t0); !errors.Is(err, ErrInsufficientCredit) {
		t.Fatalf("with the balance held: %v", err)
	}
	if err := s.Settle(r, Entry{RequestID: "other"}); err == nil {
		t.Fatal("settled with another request's entry")
	}
	if err := s.Settle(r, Entry{Account: "other"}); err == nil {
		t.Fatal("settled to another account")
	}
	if err := s.Settle(r, Entry{Cost: -1}); err == nil {
		t.Fatal("settled a negative cost")
	}
	if err := s.Release(r); err != nil {
		t.Fatalf("release after refused settles: %v", err)
	}
	if err := s.Release(r); !errors.Is(err, ErrReservationDone) {
		t.Fatalf("second release: %v", err)
	}
	if err := s.Settle(r, Entry{}); !errors.Is(err, ErrReservationDone) {
		t.Fatalf("settle after release: %v", err)
	}
	if got, _ := s.Available("team", t0); got != money.Dollar {
		t.Fatalf("available after release: %s", got)
	}
}

// TestReleaseWritesNoEntry: a request that reached no provider leaves no
// trace; one that got an upstream error is settled with its status.
func TestReleaseWritesNoEntry(t *testing.T) {
	s, dir := openTest(t)
	if err := s.TopUp("team", money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	r1, _ := s.Reserve("team", "", "no-provider", money.Dollar/2, t0)
	r2, _ := s.Reserve("team", "", "upstream-503", money.Dollar/2, t0)
	if err := s.Release(r1); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(r2, Entry{Status: 503, Provider: "openai"}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir) // neither is settled again as a crash leftover
	if _, err := s.Entry("no-provider"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("released request has an entry: %v", err)
	}
	e, err := s.Entry("upstream-503")
	if err != nil || e.Status != 503 || e.Cost != 0 || e.Settled != "" {
		t.Fatalf("upstream error entry: %+v, %v", e, err)
	}
	if a := mustAccount(t, s, "team"); a.Credits != money.Dollar {
		t.Fatalf("credits %s, want $1", a.Credits)
	}
}

// TestReplayedEntryChangesNothing: settling the same request id again, by
// the same reservation or a new one, neither writes nor charges.
func TestReplayedEntryChangesNothing(t *testing.T) {
	s, dir := openTest(t)
	if err := s.TopUp("team", money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Reserve("team", "", "req-1", money.Dollar/2, t0)
	first := Entry{KeyID: "sk-sb-key001", ModelRequested: "gpt-4o", Cost: money.Dollar / 4}
	if err := s.Settle(r, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(r, first); !errors.Is(err, ErrReservationDone) {
		t.Fatalf("second settle of one reservation: %v", err)
	}
	before := mustAccount(t, s, "team")
	for i, replay := range []Entry{first, {Cost: money.Dollar / 2, ModelRequested: "other"}} {
		if i == 1 {
			s = reopen(t, s, dir)
		}
		r, err := s.Reserve("team", "", "req-1", money.Dollar/2, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(r, replay); err != nil {
			t.Fatal(err)
		}
		if a := mustAccount(t, s, "team"); a != before {
			t.Fatalf("replay %d changed the account:\n%+v\n%+v", i, before, a)
		}
		if got, _ := s.Available("team", t0); got != before.Credits {
			t.Fatalf("replay %d left a hold: available %s", i, got)
		}
	}
	e, _ := s.Entry("req-1")
	if e.ModelRequested != "gpt-4o" || e.Cost != money.Dollar/4 {
		t.Fatalf("the entry was overwritten: %+v", e)
	}
	if got := s.Spend("sk-sb-key001", time.Time{}); got != money.Dollar/4 {
		t.Fatalf("key spend %s, want $0.25", got)
	}
	// Two settles of one id in the same group: one entry.
	a, _ := s.Reserve("team", "", "req-2", money.Dollar/10, t0)
	b, _ := s.Reserve("team", "", "req-2", money.Dollar/10, t0)
	_ = s.Settle(a, Entry{Cost: money.Dollar / 10})
	_ = s.Settle(b, Entry{Cost: money.Dollar / 10})
	if got := mustAccount(t, s, "team"); got.Credits != before.Credits-money.Dollar/10 {
		t.Fatalf("two settles of req-2: credits %s", got.Credits)
	}
}

// TestCrashLeftoversAreSettledAtWorstOnce: reservations never settled are
// settled at their worst case by Open, marked "crash"; opening again
// changes nothing.
func TestCrashLeftoversAreSettledAtWorstOnce(t *testing.T) {
	s, dir := openTest(t)
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	if err := s.AssignPlan("team", "pro", money.Dollar, Monthly, t0, CreateAccount); err != nil {
		t.Fatal(err)
	}
	settled, _ := s.Reserve("team", "", "settled", 3*money.Dollar, t0)
	released, _ := s.Reserve("team", "", "released", 3*money.Dollar, t0)
	open1, _ := s.Reserve("team", "", "open-1", 3*money.Dollar, t0.Add(time.Second))
	open2, _ := s.Reserve("team", "", "open-2", money.Dollar/2, t0.Add(2*time.Second))
	_ = s.Settle(settled, Entry{Cost: money.Dollar})
	_ = s.Release(released)
	_, _ = open1, open2

	s = reopen(t, s, dir)
	check := func() {
		t.Helper()
		a := mustAccount(t, s, "team")
		// $1 + $3 + $0.50 charged: $2 from the plan, $2.50 from credits.
		if a.Credits != 10*money.Dollar-2*money.Dollar-money.Dollar/2 || a.PlanUsed != 2*money.Dollar || a.Spent != 4*money.Dollar+money.Dollar/2 {
			t.Fatalf("account after crash settlement: %+v", a)
		}
		if got, _ := s.Available("team", t0); got != a.Credits {
			t.Fatalf("holds survived the crash: available %s", got)
		}
		entries := allEntries(t, s, "team")
		if len(entries) != 3 {
			t.Fatalf("%d entries, want 3: %+v", len(entries), entries)
		}
		for _, e := range entries {
			want := map[string]struct {
				cost    money.Money
				settled string
			}{"settled": {money.Dollar, ""}, "open-1": {3 * money.Dollar, SettledCrash}, "open-2": {money.Dollar / 2, SettledCrash}}[e.RequestID]
			if e.Cost != want.cost || e.Settled != want.settled {
				t.Fatalf("entry %+v, want cost %s settled %q", e, want.cost, want.settled)
			}
		}
		if n := len(journalFiles(t, dir)); n != 1 {
			t.Fatalf("%d journal segments, want 1", n)
		}
	}
	check()
	s = reopen(t, s, dir)
	check()
}

// TestCrashBetweenSettlementAndJournalCleanup: Open died after committing
// the crash entries but before deleting the old segments; the next Open
// finds the entries and charges nothing twice.
func TestCrashBetweenSettlementAndJournalCleanup(t *testing.T) {
	s, dir := openTest(t)
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Reserve("team", "", "open-1", 3*money.Dollar, t0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	saved := map[string][]byte{}
	for _, f := range journalFiles(t, dir) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		saved[f] = data
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for f, data := range saved { // as if Open had not removed them
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if a := mustAccount(t, s, "team"); a.Credits != 7*money.Dollar {
		t.Fatalf("credits %s, want $7", a.Credits)
	}
}

func TestJournalTornTailIsIgnored(t *testing.T) {
	s, dir := openTest(t)
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Reserve("team", "", "open-1", money.Dollar, t0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := journalFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("journal files: %v", files)
	}
	f, err := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := appendJournalRecord(nil, journalReserve, &Reservation{RequestID: "torn", Account: "team", Worst: money.Dollar, Time: t0})
	_, _ = f.Write(torn[:len(torn)-3])
	_ = f.Close()
	s = reopen(t, s, dir)
	if a := mustAccount(t, s, "team"); a.Credits != 9*money.Dollar {
		t.Fatalf("credits %s, want $9 (open-1 settled, the torn record ignored)", a.Credits)
	}
}

func TestJournalSegmentsRotateAndGo(t *testing.T) {
	defer func(n int64) { journalSegmentMax = n }(journalSegmentMax)
	journalSegmentMax = 256
	s, dir := openTest(t)
	if err := s.TopUp("team", 100*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	long, _ := s.Reserve("team", "", "long-stream", money.Dollar, t0) // keeps its segment
	for i := range 50 {
		r, err := s.Reserve("team", "", fmt.Sprintf("req-%02d", i), money.Dollar/10, t0)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			err = s.Release(r)
		} else {
			err = s.Settle(r, Entry{Cost: money.Dollar / 20})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(journalFiles(t, dir)); n != 2 {
		t.Fatalf("%d segments, want 2: the long stream's and the current", n)
	}
	if err := s.Settle(long, Entry{Cost: money.Dollar / 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(journalFiles(t, dir)); n != 1 {
		t.Fatalf("%d segments after the long stream settled, want 1", n)
	}
	s = reopen(t, s, dir)
	if a := mustAccount(t, s, "team"); a.Credits != 100*money.Dollar-25*money.Dollar/20-money.Dollar/2 {
		t.Fatalf("credits %s", a.Credits)
	}
}

// TestReservationSurvivesSIGKILL runs the test binary as a child that
// reserves, settles and releases, then kills itself with SIGKILL (no
// Close, no deferred code, and no sync since its last Flush). The parent
// reopens the directory: what was settled is there once at its cost,
// whether it had been synced, only committed, or only just settled; what
// was released left nothing; and what was only reserved is settled at
// its worst case.
func TestReservationSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv("STORE_KILL_CHILD"); dir != "" {
		killChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReservationSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "STORE_KILL_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, out)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := mustAccount(t, s, "team")
	// settled-1..3 $0.10 + $0.20 + $0.30, and the three in flight at their
	// worst case ($1 each).
	if a.Credits != 10*money.Dollar-6*money.Dollar/10-3*money.Dollar {
		t.Fatalf("credits after SIGKILL: %s", a.Credits)
	}
	entries := allEntries(t, s, "team")
	crash := 0
	for _, e := range entries {
		switch e.Settled {
		case SettledCrash:
			crash++
			if e.KeyID != "sk-sb-k1" {
				t.Errorf("crash entry %s lost its key: %q", e.RequestID, e.KeyID)
			}
		case "":
			want := map[string]money.Money{"settled-1": money.Dollar / 10, "settled-2": 2 * money.Dollar / 10, "settled-3": 3 * money.Dollar / 10}[e.RequestID]
			if e.Cost != want || e.OutputTokens != 7 {
				t.Errorf("entry %s after SIGKILL: cost %s, %d output tokens; want %s, 7", e.RequestID, e.Cost, e.OutputTokens, want)
			}
		}
	}
	if len(entries) != 6 || crash != 3 {
		t.Fatalf("entries after SIGKILL: %d, %d crash; want 6, 3", len(entries), crash)
	}
	// The crash-settled costs count toward the key's budgets.
	if got := s.Spend("sk-sb-k1", time.Time{}); got != 3*money.Dollar {
		t.Fatalf("key spend after SIGKILL: %s, want $3", got)
	}
}

func killChild(dir string) {
	s, err := OpenWith(dir, Options{SyncInterval: time.Hour}) // only Flush syncs
	if err != nil {
		os.Exit(3)
	}
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		os.Exit(4)
	}
	settle := func(id string, cost money.Money) {
		r, _ := s.Reserve("team", "", id, money.Dollar, t0)
		if err := s.Settle(r, Entry{Cost: cost, OutputTokens: 7}); err != nil {
			os.Exit(7)
		}
	}
	settle("settled-1", money.Dollar/10)
	if err := s.Flush(); err != nil { // synced
		os.Exit(5)
	}
	r, _ := s.Reserve("team", "", "released-1", money.Dollar, t0)
	_ = s.Release(r)
	// After the last fsync: only the journal has these.
	settle("settled-2", 2*money.Dollar/10)
	for { // committed with pebble.NoSync, its hold released
		if _, err := s.Entry("settled-2"); err == nil {
			break
		}
		runtime.Gosched()
	}
	settle("settled-3", 3*money.Dollar/10) // only journaled
	for i := range 3 {
		if _, err := s.Reserve("team", "sk-sb-k1", fmt.Sprintf("inflight-%d", i), money.Dollar, t0); err != nil {
			os.Exit(6)
		}
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestCloseLeavesOpenReservationsToTheNextOpen: after Close nothing is
// accepted, and what was open is settled at its worst case next time.
func TestCloseLeavesOpenReservationsToTheNextOpen(t *testing.T) {
	s, dir := openTest(t)
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	late, _ := s.Reserve("team", "", "late", 2*money.Dollar, t0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	for name, err := range map[string]error{
		"settle": s.Settle(late, Entry{Cost: money.Dollar}),
		"flush":  s.Flush(),
		"top-up": s.TopUp("team", money.Dollar, "", CreateAccount),
		"ready":  s.Ready(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := s.Reserve("team", "", "later", money.Dollar, t0); !errors.Is(err, ErrClosed) {
		t.Errorf("reserve after close: %v", err)
	}
	if _, err := s.KeyByID("sk-sb-abcdef"); !errors.Is(err, ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e, err := s.Entry("late"); err != nil || e.Settled != SettledCrash || e.Cost != 2*money.Dollar {
		t.Fatalf("late: %+v, %v", e, err)
	}
}

// TestUnlimitedAccount: an operator account reserves beyond its balance,
// and its charges still reach the ledger and its credits.
func TestUnlimitedAccount(t *testing.T) {
	s, _ := openTest(t)
	if err := s.SetUnlimited("operator"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Reserve("operator", "", "op-1", 5*money.Dollar, t0)
	if err != nil {
		t.Fatalf("unlimited account refused: %v", err)
	}
	if err := s.Settle(r, Entry{Cost: 2 * money.Dollar}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, s, "operator")
	if a.Credits != -2*money.Dollar || a.Spent != 2*money.Dollar {
		t.Fatalf("credits %s spent %s; want -$2 and $2", a.Credits, a.Spent)
	}
	if _, err := s.Entry("op-1"); err != nil {
		t.Fatalf("entry: %v", err)
	}
	if err := s.TopUp("metered", money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve("metered", "", "m-1", 2*money.Dollar, t0); !errors.Is(err, ErrInsufficientCredit) {
		t.Fatalf("a metered account was not refused: %v", err)
	}
}

// TestJournalReadsVersion1Records: a journal written before records
// carried the key ID still settles.
func TestJournalReadsVersion1Records(t *testing.T) {
	payload := []byte{journalRecordV1, journalReserve}
	payload = appendString(payload, "req-old")
	payload = appendString(payload, "team")
	payload = appendVarint(payload, int64(money.Dollar))
	payload = appendTime(payload, t0)
	rec, kind, err := decodeJournalRecord(payload)
	if err != nil || kind != journalReserve {
		t.Fatalf("kind %c, err %v", kind, err)
	}
	if rec.requestID != "req-old" || rec.account != "team" || rec.keyID != "" || rec.worst != money.Dollar || !rec.time.Equal(t0) {
		t.Fatalf("record %+v", rec)
	}
}
