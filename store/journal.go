package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"switchboard/store/money"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sys/unix"
)

// The reservation journal: append-only files beside Pebble's, one record
// per Reserve, per Release and per Settle, written with one write(2) each
// on the caller's goroutine, so that each has reached the OS (and survives
// the process dying) before the caller goes on. The syncer (syncer.go)
// fdatasyncs the segments written since its last sync every sync
// interval; with SyncAlways nothing fsyncs them. See Reserve for why
// reservations are not Pebble writes, and the writer's comment for why
// settled entries are journaled too.
//
// A record is [crc32c of payload, 4 B LE][payload length, 2 B LE][payload]
// and the payload a version byte, a kind ('R' reserve, 'D' release, 'S'
// settle), the request id and the fields; a settle record's fields are the
// whole ledger entry as Settle queued it (appendEntry). Reading stops at
// the first record that is short or fails its checksum (a tail torn by a
// power loss).
//
// Segments: 'R' and 'S' records go to the current segment,
// reservations-<n>.journal, until it passes journalSegmentMax; then a new
// one starts. A segment counts the records it holds that are not resolved
// yet: a reservation's 'R' and 'S' are resolved when its entry is durable
// in Pebble (fsynced, not only committed), or its 'R' when a 'D' record
// is written to the reservation's own segment. A segment that is not
// current and has none left is deleted. So the journal holds little more
// than the open reservations and the entries of the last sync interval,
// and a long stream keeps at most its own segment alive. Settle records
// always go to the current segment so that the journal holds them in the
// order the writer applies them (Settle writes its record and queues its
// entry under the writer's lock), which is the order Open replays them in.
//
// Open reads every segment and settles each reservation neither released
// nor in the ledger: with its settle record's entry if it has one, else at
// its reserved cost; only after that commit is durable it deletes the
// segments and starts a new one. A crash in between leaves segments whose
// reservations now have entries: the next Open finds them in the ledger
// and settles nothing twice.

// journalWriteErrors counts journal records that could not be written.
var journalWriteErrors = metrics.NewCounter(`switchboard_ledger_journal_write_errors_total`)

// journalSegmentMax is the size at which a new segment starts (a var for
// tests).
var journalSegmentMax int64 = 4 << 20

const (
	journalRecordV1 = 1 // without the key ID
	journalRecordV2 = 2
	journalReserve  = 'R'
	journalRelease  = 'D'
	journalSettle   = 'S'
	journalHeader   = 6
	segmentPrefix   = "reservations-"
	segmentSuffix   = ".journal"
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// segment is one journal file. Its fields are guarded by journal.mu; f is
// set once and safe to use after Close (it then fails).
type segment struct {
	num   uint64
	f     *os.File
	size  int64
	open  int  // records here not resolved yet ('R' and 'S')
	dirty bool // written since the syncer last took it
}

type journal struct {
	dir    string
	mu     sync.Mutex
	cur    *segment
	segs   map[uint64]*segment // every segment with an open file
	next   uint64
	buf    []byte
	closed bool

	// What the syncer has to fsync (only when track is set: with
	// SyncAlways nobody takes it). wake is poked by the first write after
	// the syncer took the last batch.
	track   bool
	wake    chan struct{}
	dirty   []*segment
	newFile bool // a segment was created: the directory needs a sync
}

// journalRecord is an open reservation read back by Open.
type journalRecord struct {
	requestID string
	account   string
	keyID     string
	worst     money.Money
	time      time.Time
	// entry is what Settle queued for the reservation, from its settle
	// record; nil when the request did not get as far.
	entry *Entry
}

// start deletes the old segments (their reservations are now settled) and
// opens a new current segment numbered after them.
func (j *journal) start(dir string, old []uint64) error {
	j.dir = dir
	j.segs = map[uint64]*segment{}
	j.next = 1
	for _, n := range old {
		if err := os.Remove(filepath.Join(dir, segmentName(n))); err != nil {
			return fmt.Errorf("cannot remove settled journal segment: %w", err)
		}
		j.next = max(j.next, n+1)
	}
	return j.rotate()
}

func segmentName(n uint64) string {
	return segmentPrefix + fmt.Sprintf("%06d", n) + segmentSuffix
}

// rotate makes a new current segment. The caller holds mu (or owns j).
func (j *journal) rotate() error {
	path := filepath.Join(j.dir, segmentName(j.next))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create journal segment: %w", err)
	}
	seg := &segment{num: j.next, f: f}
	j.next++
	j.segs[seg.num] = seg
	if j.track {
		j.newFile = true
		poke(j.wake)
	}
	old := j.cur
	j.cur = seg
	if old != nil && old.open == 0 {
		j.drop(old)
	}
	return nil
}

// drop closes and deletes a segment with nothing open. A failed delete
// only leaves a file whose reservations are all resolved; Open deletes it.
func (j *journal) drop(seg *segment) {
	_ = seg.f.Close()
	_ = os.Remove(filepath.Join(j.dir, segmentName(seg.num)))
	delete(j.segs, seg.num)
}

// reserve appends r's record and ties r to the segment holding it.
func (j *journal) reserve(r *Reservation) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	j.buf = appendJournalRecord(j.buf[:0], journalReserve, r)
	seg := j.cur
	if _, err := seg.f.Write(j.buf); err != nil {
		// A failed write may leave a torn record, and reading stops at the
		// first one: later records go to a new segment.
		journalWriteErrors.Inc()
		_ = j.rotate()
		return fmt.Errorf("cannot journal reservation %q: %w", r.RequestID, err)
	}
	seg.size += int64(len(j.buf))
	seg.open++
	r.seg = seg
	j.written(seg)
	if seg.size >= journalSegmentMax {
		_ = j.rotate() // on failure seg stays current and grows
	}
	return nil
}

// settle appends the settle record of r, holding the entry e as Settle
// queued it, to the current segment. The caller holds the writer's queue
// lock, so settle records are in the journal in the writer's order. On an
// error nothing ties r to a settle record, and a crash settles r at its
// worst case as before Settle.
func (j *journal) settle(r *Reservation, e *Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	j.buf = appendSettleRecord(j.buf[:0], e)
	if len(j.buf) > journalHeader+math.MaxUint16 {
		journalWriteErrors.Inc()
		return fmt.Errorf("cannot journal the entry of %q: %d bytes, the most is %d", r.RequestID, len(j.buf)-journalHeader, math.MaxUint16)
	}
	seg := j.cur
	if _, err := seg.f.Write(j.buf); err != nil {
		journalWriteErrors.Inc()
		_ = j.rotate() // as in reserve: later records go to a new segment
		return fmt.Errorf("cannot journal the entry of %q: %w", r.RequestID, err)
	}
	seg.size += int64(len(j.buf))
	seg.open++
	r.sseg = seg
	j.written(seg)
	if seg.size >= journalSegmentMax {
		_ = j.rotate()
	}
	return nil
}

// release appends a 'D' record for r to r's own segment (so the two are
// deleted together) and resolves r.
func (j *journal) release(r *Reservation) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	j.buf = appendJournalRecord(j.buf[:0], journalRelease, r)
	if _, err := r.seg.f.Write(j.buf); err != nil {
		journalWriteErrors.Inc()
		return fmt.Errorf("cannot journal the release of %q: %w", r.RequestID, err)
	}
	j.written(r.seg)
	j.resolveLocked(r.seg)
	return nil
}

// written notes that seg has records the syncer has not fsynced.
func (j *journal) written(seg *segment) {
	if !j.track || seg.dirty {
		return
	}
	seg.dirty = true
	j.dirty = append(j.dirty, seg)
	if len(j.dirty) == 1 {
		poke(j.wake)
	}
}

// resolve marks reservations whose entries are durable in Pebble as
// resolved: their 'R' and 'S' records are no longer needed.
func (j *journal) resolve(rs []*Reservation) {
	if len(rs) == 0 {
		return
	}
	j.mu.Lock()
	for _, r := range rs {
		j.resolveLocked(r.seg)
		if r.sseg != nil {
			j.resolveLocked(r.sseg)
		}
	}
	j.mu.Unlock()
}

func (j *journal) resolveLocked(seg *segment) {
	seg.open--
	if seg.open == 0 && seg != j.cur && !j.closed {
		j.drop(seg)
	}
}

// pending reports whether the journal has writes the syncer has not taken.
func (j *journal) pending() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.dirty) > 0 || j.newFile
}

// sync fdatasyncs the segments written since the last sync and, if a
// segment was created since, the directory. Records written while it runs
// are left to the next sync. A segment deleted meanwhile needs no sync.
func (j *journal) sync() error {
	j.mu.Lock()
	segs, newFile := j.dirty[:0], j.newFile
	for _, seg := range j.dirty {
		seg.dirty = false
		if j.segs[seg.num] == seg {
			segs = append(segs, seg)
		}
	}
	j.dirty, j.newFile = nil, false
	j.mu.Unlock()
	var errs []error
	for _, seg := range segs {
		if err := fdatasync(seg.f); err != nil && !j.dropped(seg) {
			errs = append(errs, fmt.Errorf("cannot sync journal segment %s: %w", segmentName(seg.num), err))
		}
	}
	if newFile {
		if err := syncDir(j.dir); err != nil {
			errs = append(errs, fmt.Errorf("cannot sync the journal's directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// dropped reports whether seg was deleted (all its records resolved).
func (j *journal) dropped(seg *segment) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.segs[seg.num] != seg
}

// fdatasync flushes f's data (and the size needed to read it back) to the
// disk. The raw-conn call holds f open for its duration, so a concurrent
// Close cannot hand the descriptor to another file.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = unix.Fdatasync(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// syncDir fsyncs a directory, making the files created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// close closes every segment and deletes those with nothing open: after
// the writer drained and the syncer's last sync, every reservation in them
// is resolved durably.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	for _, seg := range j.segs {
		_ = seg.f.Close()
		if seg.open == 0 {
			_ = os.Remove(filepath.Join(j.dir, segmentName(seg.num)))
		}
	}
	return nil
}

func appendJournalRecord(dst []byte, kind byte, r *Reservation) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0) // journalHeader: crc and length, set below
	dst = append(dst, journalRecordV2, kind)
	dst = appendString(dst, r.RequestID)
	if kind == journalReserve {
		dst = appendString(dst, r.Account)
		dst = appendString(dst, r.KeyID)
		dst = appendVarint(dst, int64(r.Worst))
		dst = appendTime(dst, r.Time)
	}
	return sealRecord(dst, start)
}

// appendSettleRecord appends the settle record of entry e. Its length must
// be checked: a payload over 65535 bytes does not fit the header.
func appendSettleRecord(dst []byte, e *Entry) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0)
	dst = append(dst, journalRecordV2, journalSettle)
	dst = appendString(dst, e.RequestID)
	dst = appendEntry(dst, e)
	return sealRecord(dst, start)
}

// sealRecord sets the checksum and length of the record at dst[start:].
func sealRecord(dst []byte, start int) []byte {
	payload := dst[start+journalHeader:]
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(payload, crc32c))
	binary.LittleEndian.PutUint16(dst[start+4:], uint16(len(payload)))
	return dst
}

// readJournal returns the reservations the journal in dir leaves open and
// the numbers of its segments: first those with a settle record, in the
// order the records were written (the writer's order), then the others in
// time order.
func readJournal(dir string) ([]journalRecord, []uint64, error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot list journal: %w", err)
	}
	var segs []uint64
	for _, de := range names {
		name := de.Name()
		if !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		n, err := strconv.ParseUint(name[len(segmentPrefix):len(name)-len(segmentSuffix)], 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)

	type state struct {
		rec   journalRecord
		open  int
		entry *Entry
		order int // of the settle record, in reading order
	}
	settles := 0
	byID := map[string]*state{}
	for _, n := range segs {
		data, err := os.ReadFile(filepath.Join(dir, segmentName(n)))
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read journal: %w", err)
		}
		for len(data) >= journalHeader {
			size := int(binary.LittleEndian.Uint16(data[4:]))
			if journalHeader+size > len(data) {
				break // torn tail
			}
			payload := data[journalHeader : journalHeader+size]
			if crc32.Checksum(payload, crc32c) != binary.LittleEndian.Uint32(data) {
				break // torn tail
			}
			data = data[journalHeader+size:]
			rec, kind, err := decodeJournalRecord(payload)
			if err != nil {
				return nil, nil, fmt.Errorf("journal segment %s: %w", segmentName(n), err)
			}
			st := byID[rec.requestID]
			if st == nil {
				st = &state{}
				byID[rec.requestID] = st
			}
			switch kind {
			case journalReserve:
				st.rec = rec
				st.open++
			case journalRelease:
				st.open--
			case journalSettle:
				st.entry, st.order = rec.entry, settles
				settles++
			}
		}
	}
	type openRecord struct {
		journalRecord
		order int
	}
	var open []openRecord
	for _, st := range byID {
		// A settle record without its reservation's: the reservation was
		// resolved and its segment deleted.
		if st.open > 0 && st.rec.requestID != "" {
			st.rec.entry = st.entry
			open = append(open, openRecord{st.rec, st.order})
		}
	}
	slices.SortFunc(open, func(a, b openRecord) int {
		switch {
		case a.entry != nil && b.entry != nil:
			return a.order - b.order
		case a.entry != nil:
			return -1
		case b.entry != nil:
			return 1
		}
		if c := a.time.Compare(b.time); c != 0 {
			return c
		}
		return strings.Compare(a.requestID, b.requestID)
	})
	out := make([]journalRecord, len(open))
	for i := range open {
		out[i] = open[i].journalRecord
	}
	return out, segs, nil
}

func decodeJournalRecord(payload []byte) (journalRecord, byte, error) {
	r := reader{b: payload}
	var rec journalRecord
	v := r.version("journal", journalRecordV1, journalRecordV2)
	kind := r.byte()
	rec.requestID = r.string()
	switch kind {
	case journalReserve:
		rec.account = r.string()
		if v >= journalRecordV2 {
			rec.keyID = r.string()
		}
		rec.worst = r.money()
		rec.time = r.time()
	case journalRelease:
	case journalSettle:
		if r.err != nil {
			break
		}
		e, err := decodeEntry(rec.requestID, r.b)
		if err == nil && e.RequestID != rec.requestID {
			err = fmt.Errorf("settle record of %q holds the entry of %q", rec.requestID, e.RequestID)
		}
		if err != nil {
			r.err = err
			break
		}
		r.b = nil
		rec.entry = &e
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown record kind %q", kind)
		}
	}
	return rec, kind, r.done("journal record", rec.requestID)
}
