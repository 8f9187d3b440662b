package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestAuditLogPagesNewestFirstAndSurvivesReopen(t *testing.T) {
	s, dir := openTest(t)
	for i := range 7 {
		e := AuditEntry{Time: t0.Add(time.Duration(i/2) * time.Second), Principal: "master", Action: "keys.patch",
			Target: fmt.Sprintf("sk-sb-k%05d", i), Before: `{"rpm":null}`, After: fmt.Sprintf(`{"rpm":%d}`, i)}
		if _, err := s.AppendAudit(e); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, dir)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := s.Audit(3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.Target[len(e.Target)-1:]+e.After)
		}
		if next == "" {
			break
		}
		if pages > 3 || len(page) != 3 {
			t.Fatalf("page of %d with a next cursor", len(page))
		}
		cursor = next
	}
	want := `6{"rpm":6} 5{"rpm":5} 4{"rpm":4} 3{"rpm":3} 2{"rpm":2} 1{"rpm":1} 0{"rpm":0}`
	if g := fmt.Sprint(got); g != "["+want+"]" {
		t.Errorf("audit log %s, want [%s]", g, want)
	}
	page, _, _ := s.Audit(1, "")
	if e := page[0]; e.Principal != "master" || e.Action != "keys.patch" || e.Before != `{"rpm":null}` || !e.Time.Equal(t0.Add(3*time.Second)) {
		t.Errorf("entry %+v", e)
	}
	if _, _, err := s.Audit(0, "zz"); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, err := s.AppendAudit(AuditEntry{Action: "x"}); err == nil {
		t.Errorf("an entry without a time was written")
	}
}
