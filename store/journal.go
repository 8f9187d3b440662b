package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"switchboard/store/money"
	"sync"
	"time"
)

// The reservation journal: append-only files beside Pebble's, one record
// per Reserve and per Release, written with one write(2) each and never
// fsynced. See Reserve for why reservations are not Pebble writes.
//
// A record is [crc32c of payload, 4 B LE][payload length, 2 B LE][payload]
// and the payload a version byte, a kind ('R' reserve, 'D' release) and the
// fields. Reading stops at the first record that is short or fails its
// checksum (a tail torn by a power loss).
//
// Segments: records go to the current segment, reservations-<n>.journal,
// until it passes journalSegmentMax; then a new one starts. A segment
// counts its reservations not yet resolved (settled durably in the ledger,
// or released with a 'D' record written to the reservation's own segment);
// a segment that is not current and has none left is deleted. So the
// journal holds little more than the open reservations, and a long stream
// keeps at most its own segment alive.
//
// Open reads every segment, settles the reservations neither released nor
// in the ledger at their reserved cost, and only after that commit is
// durable deletes the segments and starts a new one. A crash in between
// leaves segments whose reservations now have entries: the next Open finds
// them in the ledger and settles nothing twice.

// journalSegmentMax is the size at which a new segment starts (a var for
// tests).
var journalSegmentMax int64 = 4 << 20

const (
	journalRecordV1 = 1 // without the key ID
	journalRecordV2 = 2
	journalReserve  = 'R'
	journalRelease  = 'D'
	journalHeader   = 6
	segmentPrefix   = "reservations-"
	segmentSuffix   = ".journal"
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// segment is one journal file. Its fields are guarded by journal.mu.
type segment struct {
	num  uint64
	f    *os.File
	size int64
	open int // reservations recorded here and not resolved yet
}

type journal struct {
	dir    string
	mu     sync.Mutex
	cur    *segment
	segs   map[uint64]*segment // every segment with an open file
	next   uint64
	buf    []byte
	closed bool
}

// journalRecord is an open reservation read back by Open.
type journalRecord struct {
	requestID string
	account   string
	keyID     string
	worst     money.Money
	time      time.Time
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
		_ = j.rotate()
		return fmt.Errorf("cannot journal reservation %q: %w", r.RequestID, err)
	}
	seg.size += int64(len(j.buf))
	seg.open++
	r.seg = seg
	if seg.size >= journalSegmentMax {
		_ = j.rotate() // on failure seg stays current and grows
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
		return fmt.Errorf("cannot journal the release of %q: %w", r.RequestID, err)
	}
	j.resolveLocked(r.seg)
	return nil
}

// resolve marks reservations whose entries are durable as resolved.
func (j *journal) resolve(rs []*Reservation) {
	if len(rs) == 0 {
		return
	}
	j.mu.Lock()
	for _, r := range rs {
		j.resolveLocked(r.seg)
	}
	j.mu.Unlock()
}

func (j *journal) resolveLocked(seg *segment) {
	seg.open--
	if seg.open == 0 && seg != j.cur && !j.closed {
		j.drop(seg)
	}
}

// close closes every segment and deletes those with nothing open: after
// the writer drained, every reservation in them is resolved durably.
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
	payload := dst[start+journalHeader:]
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(payload, crc32c))
	binary.LittleEndian.PutUint16(dst[start+4:], uint16(len(payload)))
	return dst
}

// readJournal returns the reservations the journal in dir leaves open (in
// time order) and the numbers of its segments.
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
		rec  journalRecord
		open int
	}
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
			if kind == journalReserve {
				st.rec = rec
				st.open++
			} else {
				st.open--
			}
		}
	}
	var open []journalRecord
	for _, st := range byID {
		if st.open > 0 && st.rec.requestID != "" {
			open = append(open, st.rec)
		}
	}
	slices.SortFunc(open, func(a, b journalRecord) int {
		if c := a.time.Compare(b.time); c != 0 {
			return c
		}
		return strings.Compare(a.requestID, b.requestID)
	})
	return open, segs, nil
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
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown record kind %q", kind)
		}
	}
	return rec, kind, r.done("journal record", rec.requestID)
}
