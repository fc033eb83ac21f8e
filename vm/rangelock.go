package vm

// Range locks (seed 001, "Range Locking"): an I/O operation reserves the
// byte range of the object it is about to touch. Readers take the range
// shared, writers exclusive, so reads and writes on different parts of one
// object run in parallel while a reader can never observe half of a write.
// Ranges are rounded out to whole pages (rangeBounds): the cache's unit is
// the page, and bytes of one page share its contents and state.
//
// Records are aggregated: a new lock that touches (overlaps or abuts) a held
// record of the same mode is folded into it, the record's count goes up and
// its range becomes the union. Folding is always safe because every holder
// of the folded record was already granted; the union only makes later,
// conflicting requests wait a little more conservatively (until the whole
// record drains). When the number of records passes lockRecordLimit, a new
// record is also folded across an empty gap into its nearest same-mode
// neighbour, so the record count stays bounded no matter how many holders
// there are ("aggregate into larger granularities to reduce management
// overhead").
//
// Invariants (checked by checkLocked in tests):
//   - records are sorted by start and never overlap unless both are shared;
//   - a record's count is > 0 while it is in the list;
//   - a handle whose record was folded follows mergedInto to the live record.
//
// A thread must not hold two range locks of one object at once: a waiting
// writer blocks new overlapping readers (so writers are not starved), which
// would deadlock a reader that nests.

import (
	"fmt"
	"math"
	"sort"
)

// Mode is the mode of a range lock.
type Mode uint8

const (
	Shared    Mode = iota // many holders; readers
	Exclusive             // one holder; writers, truncate, eviction
)

func (m Mode) String() string {
	if m == Shared {
		return "shared"
	}
	return "exclusive"
}

// lockRecordLimit bounds the record list before gap folding starts.
const lockRecordLimit = 32

type lockRecord struct {
	start, end int64 // [start, end)
	mode       Mode
	count      int
	mergedInto *lockRecord
}

// RangeLock is a held range lock; Unlock releases it exactly once.
type RangeLock struct {
	o     *Object
	rec   *lockRecord
	start int64
	end   int64
	mode  Mode
}

type waiter struct {
	start, end int64
}

// rangeLocks is embedded in Object and protected by Object.mu.
type rangeLocks struct {
	recs     []*lockRecord
	xwaiters []*waiter // exclusive requests waiting; block overlapping new readers
}

func overlaps(a0, a1, b0, b1 int64) bool { return a0 < b1 && b0 < a1 }

// conflict reports whether [start,end) in mode conflicts with a held record.
func (rl *rangeLocks) conflict(start, end int64, mode Mode) bool {
	for _, r := range rl.recs {
		if r.start >= end {
			break
		}
		if overlaps(start, end, r.start, r.end) && (mode == Exclusive || r.mode == Exclusive) {
			return true
		}
	}
	return false
}

func (rl *rangeLocks) writerWaiting(start, end int64) bool {
	for _, w := range rl.xwaiters {
		if overlaps(start, end, w.start, w.end) {
			return true
		}
	}
	return false
}

// insert adds a granted lock, folding it into neighbours where allowed.
func (rl *rangeLocks) insert(start, end int64, mode Mode) *lockRecord {
	// Fold into every touching same-mode record.
	var into *lockRecord
	out := rl.recs[:0]
	for _, r := range rl.recs {
		touch := r.mode == mode && r.start <= end && start <= r.end
		if !touch {
			out = append(out, r)
			continue
		}
		if into == nil {
			into = r
			into.count++
			into.start = min(into.start, start)
			into.end = max(into.end, end)
			out = append(out, r)
			continue
		}
		// r also touches: fold r into into.
		into.start = min(into.start, r.start)
		into.end = max(into.end, r.end)
		into.count += r.count
		r.mergedInto = into
		r.count = 0
	}
	rl.recs = out
	if into == nil {
		into = &lockRecord{start: start, end: end, mode: mode, count: 1}
		i := sort.Search(len(rl.recs), func(i int) bool { return rl.recs[i].start >= start })
		rl.recs = append(rl.recs, nil)
		copy(rl.recs[i+1:], rl.recs[i:])
		rl.recs[i] = into
		if len(rl.recs) > lockRecordLimit {
			into = rl.foldGap(i)
		}
	}
	sort.SliceStable(rl.recs, func(a, b int) bool { return rl.recs[a].start < rl.recs[b].start })
	return into
}

// foldGap folds record i into its nearest same-mode neighbour when nothing
// lies between them. It returns the record now holding i's count.
func (rl *rangeLocks) foldGap(i int) *lockRecord {
	r := rl.recs[i]
	best, bestGap := -1, int64(math.MaxInt64)
	if i > 0 && rl.recs[i-1].mode == r.mode && rl.recs[i-1].end <= r.start {
		best, bestGap = i-1, r.start-rl.recs[i-1].end
	}
	if i+1 < len(rl.recs) && rl.recs[i+1].mode == r.mode && r.end <= rl.recs[i+1].start {
		if g := rl.recs[i+1].start - r.end; g < bestGap {
			best = i + 1
		}
	}
	if best < 0 {
		return r
	}
	n := rl.recs[best]
	n.start = min(n.start, r.start)
	n.end = max(n.end, r.end)
	n.count += r.count
	r.mergedInto = n
	r.count = 0
	rl.recs = append(rl.recs[:i], rl.recs[i+1:]...)
	return n
}

func (rl *rangeLocks) release(rec *lockRecord) {
	for rec.mergedInto != nil {
		rec = rec.mergedInto
	}
	if rec.count <= 0 {
		panic("vm: range lock released twice")
	}
	rec.count--
	if rec.count > 0 {
		return
	}
	for i, r := range rl.recs {
		if r == rec {
			rl.recs = append(rl.recs[:i], rl.recs[i+1:]...)
			return
		}
	}
	panic("vm: range lock record not found")
}

// checkLocked verifies the invariants; tests call it.
func (rl *rangeLocks) checkLocked() error {
	for i, r := range rl.recs {
		if r.count <= 0 || r.start >= r.end || r.mergedInto != nil {
			return fmt.Errorf("vm: bad lock record %d: %+v", i, *r)
		}
		if i > 0 {
			p := rl.recs[i-1]
			if p.start > r.start {
				return fmt.Errorf("vm: lock records out of order at %d", i)
			}
			if overlaps(p.start, p.end, r.start, r.end) && (p.mode == Exclusive || r.mode == Exclusive) {
				return fmt.Errorf("vm: conflicting lock records %+v %+v", *p, *r)
			}
		}
	}
	return nil
}

// LockRange locks the pages holding [off, off+n) of the object in mode,
// waiting for conflicting holders to leave. n <= 0 locks to the end of the address
// space (used by Truncate).
func (o *Object) LockRange(off, n int64, mode Mode) *RangeLock {
	start, end := rangeBounds(off, n)
	o.mu.Lock()
	defer o.mu.Unlock()
	var w *waiter
	for o.locks.conflict(start, end, mode) || (mode == Shared && o.locks.writerWaiting(start, end)) {
		if w == nil && mode == Exclusive {
			w = &waiter{start, end}
			o.locks.xwaiters = append(o.locks.xwaiters, w)
		}
		o.stats.LockWaits.Add(1)
		o.cond.Wait()
	}
	if w != nil {
		o.removeWaiter(w)
	}
	rec := o.locks.insert(start, end, mode)
	o.markLocked(start, end, mode)
	return &RangeLock{o: o, rec: rec, start: start, end: end, mode: mode}
}

// TryLockRange is LockRange without waiting; it returns nil on conflict.
func (o *Object) TryLockRange(off, n int64, mode Mode) *RangeLock {
	start, end := rangeBounds(off, n)
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tryLockLocked(start, end, mode)
}

func (o *Object) tryLockLocked(start, end int64, mode Mode) *RangeLock {
	if o.locks.conflict(start, end, mode) || (mode == Shared && o.locks.writerWaiting(start, end)) {
		return nil
	}
	rec := o.locks.insert(start, end, mode)
	o.markLocked(start, end, mode)
	return &RangeLock{o: o, rec: rec, start: start, end: end, mode: mode}
}

func (o *Object) removeWaiter(w *waiter) {
	ws := o.locks.xwaiters
	for i, x := range ws {
		if x == w {
			o.locks.xwaiters = append(ws[:i], ws[i+1:]...)
			return
		}
	}
}

// Unlock releases the range lock.
func (l *RangeLock) Unlock() {
	o := l.o
	o.mu.Lock()
	o.locks.release(l.rec)
	o.markUnlocked(l.start, l.end, l.mode)
	o.mu.Unlock()
	o.cond.Broadcast()
}

// Range returns the locked byte range [start, end) (whole pages).
func (l *RangeLock) Range() (start, end int64) { return l.start, l.end }

// LockRecords returns the number of live range-lock records (bounded by
// aggregation).
func (o *Object) LockRecords() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.locks.recs)
}

// rangeBounds turns (off, n) into the page-aligned range a lock covers.
// Locks are whole pages because page contents and page state (valid,
// dirty, a fill from the pager) are shared by every byte of the page: two
// writers of disjoint bytes of one page must still take turns.
func rangeBounds(off, n int64) (int64, int64) {
	start := off &^ (PageSize - 1)
	if n <= 0 || off > math.MaxInt64-n-PageSize {
		return start, math.MaxInt64
	}
	return start, (off + n + PageSize - 1) &^ (PageSize - 1)
}
