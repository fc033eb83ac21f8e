// Package vm holds VM objects: page-granular caches of a backing store
// addressed by 64-bit byte offsets, with range locks carrying a MESI-like
// state per range (seed 000 "Caching Infrastructure" and "New I/O Device
// Model"; seed 001 "Range Locking"). I/O in Damselfly names a range of an
// object, never a range of addresses or a block number.
//
// Locking: Object.mu protects the page map, the size, the range-lock
// records and the state map, and is held only for short bookkeeping. Page
// contents are protected by range locks (rangelock.go), which are held
// across copies and pager I/O. Lock order: Object.mu before Pool.mu;
// Pool.mu is never held while an Object.mu is taken. A thread holds at
// most one blocking range lock of an object at a time (others only by
// TryLockRange), so range locks cannot deadlock among themselves.
package vm

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
)

// Pager is the backing store of an object.
//
// ReadPages fills p (len a multiple of PageSize) with the bytes at off
// (page aligned); bytes past the store's end read as zero. WritePages
// stores p at off (page aligned); len(p) need not be a multiple of PageSize
// because the object never writes past its size. Size is the store's size
// when the object is created. Pagers may be called from several threads at
// once, always on disjoint pages.
type Pager interface {
	ReadPages(off int64, p []byte) error
	WritePages(off int64, p []byte) error
	Size() int64
}

// Flusher is implemented by pagers with a volatile write cache; Sync
// calls Flush after writing back.
type Flusher interface{ Flush() error }

// Truncater is implemented by pagers whose size can change.
type Truncater interface{ Truncate(size int64) error }

// VectorPager is implemented by pagers that can transfer a run of pages in
// place (a page list) instead of through one contiguous buffer, saving the
// object a bounce buffer and a copy. pages are consecutive in the object;
// the last one written may be shorter than PageSize (clipped to the size).
type VectorPager interface {
	ReadPagesV(off int64, pages [][]byte) error
	WritePagesV(off int64, pages [][]byte) error
}

// ReadOnlyPager is implemented by pagers that refuse writes.
type ReadOnlyPager interface{ ReadOnly() bool }

// FixedSizePager is implemented by pagers that cannot grow or shrink (a
// disk): WriteAt past the end and Truncate are refused up front instead of
// leaving dirty pages that can never be written back.
type FixedSizePager interface{ FixedSize() bool }

// Errors of object operations (wrapped with the object and offset).
var (
	ErrReadOnly  = errors.New("read-only")
	ErrBeyondEnd = errors.New("beyond end of device")
	ErrFixedSize = errors.New("size is fixed")
)

// maxRun is the largest pager transfer the object issues (1 MiB).
const maxRun = 256

// Stats are an object's counters.
type Stats struct {
	Hits        atomic.Uint64 // pages found valid
	Fills       atomic.Uint64 // pages read from the pager
	PagerReads  atomic.Uint64 // ReadPages calls
	PagerWrites atomic.Uint64 // WritePages calls
	LockWaits   atomic.Uint64 // range lock requests that waited
}

// Object is a cached, range-locked view of a Pager.
type Object struct {
	name     string
	pager    Pager
	pool     *Pool
	readOnly bool
	fixed    bool // size cannot change (FixedSizePager)

	// syncMu serializes Syncs: write-back clears dirty bits under a shared
	// range lock, which two Syncs could otherwise hold at once.
	syncMu sync.Mutex

	mu     sync.Mutex
	cond   *sync.Cond
	size   int64
	pages  map[int64]*page
	ndirty int
	locks  rangeLocks
	states stateMap

	stats Stats
}

// NewObject returns an object over pg. Pages count against pool; a nil
// pool means no budget.
func NewObject(name string, pg Pager, pool *Pool) *Object {
	o := &Object{name: name, pager: pg, pool: pool, size: pg.Size(), pages: make(map[int64]*page)}
	if ro, ok := pg.(ReadOnlyPager); ok {
		o.readOnly = ro.ReadOnly()
	}
	if fs, ok := pg.(FixedSizePager); ok {
		o.fixed = fs.FixedSize()
	}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// Name returns the object's name (used in errors).
func (o *Object) Name() string { return o.name }

// Stats returns the object's counters.
func (o *Object) Stats() *Stats { return &o.stats }

// Size returns the object's size in bytes.
func (o *Object) Size() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.size
}

// Resident returns the number of cached pages and how many are dirty.
func (o *Object) Resident() (pages, dirty int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pages), o.ndirty
}

func (o *Object) errf(off int64, format string, a ...any) error {
	return fmt.Errorf("vm: object %s at offset %d: "+format, append([]any{o.name, off}, a...)...)
}

// lookup returns the pages [first, last], creating missing ones. The
// caller holds a range lock covering them.
func (o *Object) lookup(first, last int64) []*page {
	ps := make([]*page, 0, last-first+1)
	var fresh []*page
	o.mu.Lock()
	for i := first; i <= last; i++ {
		pg := o.pages[i]
		if pg == nil {
			pg = &page{obj: o, index: i, data: newPageData()}
			o.pages[i] = pg
			fresh = append(fresh, pg)
		} else if o.pool != nil {
			o.pool.touch(pg)
		}
		ps = append(ps, pg)
	}
	o.mu.Unlock()
	if o.pool != nil {
		for _, pg := range fresh {
			o.pool.admit(pg)
		}
	}
	return ps
}

// fill makes every page of ps valid, reading runs of invalid pages from
// the pager. The caller holds a range lock covering ps (shared or
// exclusive); fill serializes concurrent shared fillers per page.
func (o *Object) fill(ps []*page) error {
	for i := 0; i < len(ps); {
		pg := ps[i]
		pg.fill.Lock()
		if pg.valid {
			pg.fill.Unlock()
			o.stats.Hits.Add(1)
			i++
			continue
		}
		// Gather a run of invalid pages, fill locks taken in ascending order.
		j := i + 1
		for j < len(ps) && j-i < maxRun && ps[j].index == ps[j-1].index+1 {
			ps[j].fill.Lock()
			if ps[j].valid {
				ps[j].fill.Unlock()
				break
			}
			j++
		}
		run := ps[i:j]
		err := o.readRun(run)
		for _, r := range run {
			if err == nil {
				r.valid = true
				r.serial++
			}
			r.fill.Unlock()
		}
		if err != nil {
			return err
		}
		o.stats.Fills.Add(uint64(len(run)))
		i = j
	}
	return nil
}

func (o *Object) readRun(run []*page) error {
	off := run[0].index << pageShift
	o.stats.PagerReads.Add(1)
	if len(run) == 1 {
		if err := o.pager.ReadPages(off, run[0].data); err != nil {
			return o.errf(off, "read: %w", err)
		}
		return nil
	}
	if vp, ok := o.pager.(VectorPager); ok {
		list := make([][]byte, len(run))
		for k, r := range run {
			list[k] = r.data
		}
		if err := vp.ReadPagesV(off, list); err != nil {
			return o.errf(off, "read: %w", err)
		}
		return nil
	}
	buf := make([]byte, len(run)*PageSize)
	if err := o.pager.ReadPages(off, buf); err != nil {
		return o.errf(off, "read: %w", err)
	}
	for k, r := range run {
		copy(r.data, buf[k*PageSize:])
	}
	return nil
}

// ReadAt reads len(p) bytes at off under a shared range lock, so it sees
// either all or none of any concurrent WriteAt. It follows io.ReaderAt.
func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, o.errf(off, "negative offset")
	}
	if len(p) == 0 {
		return 0, nil
	}
	lk := o.LockRange(off, int64(len(p)), Shared)
	defer lk.Unlock()
	size := o.Size()
	if off >= size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > size {
		n = size - off
	}
	ps := o.lookup(off>>pageShift, (off+n-1)>>pageShift)
	if err := o.fill(ps); err != nil {
		return 0, err
	}
	o.copyOut(p[:n], off, ps)
	o.mu.Lock()
	o.states.set(off, off+n, SharedState, true)
	o.mu.Unlock()
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

func (o *Object) copyOut(p []byte, off int64, ps []*page) {
	done := 0
	for _, pg := range ps {
		a := int((off + int64(done)) - pg.index<<pageShift)
		done += copy(p[done:], pg.data[a:])
	}
}

// ReadCached is the fast path for callers that must not wait for I/O: it
// copies [off, off+len(p)) only if every page is resident and valid. It
// may wait for a conflicting range lock; TryReadCached does not.
func (o *Object) ReadCached(p []byte, off int64) bool { return o.readCached(p, off, true) }

// TryReadCached is ReadCached that also gives up instead of waiting for a
// range lock (for callers that must never block, like a port's put).
func (o *Object) TryReadCached(p []byte, off int64) bool { return o.readCached(p, off, false) }

func (o *Object) readCached(p []byte, off int64, wait bool) bool {
	if off < 0 || len(p) == 0 {
		return false
	}
	var lk *RangeLock
	if wait {
		lk = o.LockRange(off, int64(len(p)), Shared)
	} else if lk = o.TryLockRange(off, int64(len(p)), Shared); lk == nil {
		return false
	}
	defer lk.Unlock()
	o.mu.Lock()
	if off+int64(len(p)) > o.size {
		o.mu.Unlock()
		return false
	}
	first, last := off>>pageShift, (off+int64(len(p))-1)>>pageShift
	ps := make([]*page, 0, last-first+1)
	for i := first; i <= last; i++ {
		pg := o.pages[i]
		if pg == nil {
			o.mu.Unlock()
			return false
		}
		ps = append(ps, pg)
	}
	o.mu.Unlock()
	for _, pg := range ps {
		if wait {
			pg.fill.Lock()
		} else if !pg.fill.TryLock() {
			return false
		}
		v := pg.valid
		pg.fill.Unlock()
		if !v {
			return false
		}
	}
	o.copyOut(p, off, ps)
	o.stats.Hits.Add(uint64(len(ps)))
	return true
}

// WriteAt writes p at off under an exclusive range lock. The data stays
// in the cache (state M) until Sync or eviction writes it back. Writing
// past the end grows the object.
func (o *Object) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, o.errf(off, "negative offset")
	}
	if o.readOnly {
		return 0, o.errf(off, "write: %w", ErrReadOnly)
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := off + int64(len(p))
	if o.fixed && end > o.Size() {
		return 0, o.errf(off, "write of %d bytes: %w", len(p), ErrBeyondEnd)
	}
	lk := o.LockRange(off, int64(len(p)), Exclusive)
	defer lk.Unlock()
	ps := o.lookup(off>>pageShift, (end-1)>>pageShift)
	// Only the first and last page can be partly covered; they need their
	// old contents first.
	for _, pg := range []*page{ps[0], ps[len(ps)-1]} {
		base := pg.index << pageShift
		if !pg.valid && (off > base || end < base+PageSize) {
			if err := o.fill([]*page{pg}); err != nil {
				return 0, err
			}
		}
	}
	done := 0
	newDirty := 0
	for _, pg := range ps {
		a := int((off + int64(done)) - pg.index<<pageShift)
		done += copy(pg.data[a:], p[done:])
		pg.valid = true
		pg.serial++
		if !pg.dirty {
			pg.dirty = true
			newDirty++
		}
	}
	o.mu.Lock()
	o.ndirty += newDirty
	if end > o.size {
		o.size = end
	}
	o.states.set(off, end, Modified, false)
	o.mu.Unlock()
	return len(p), nil
}

// Sync writes back every modified range and flushes the pager.
func (o *Object) Sync() error {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	o.mu.Lock()
	segs := o.states.collect(Modified)
	segs = append(segs, o.states.collect(ExclusiveState)...)
	o.mu.Unlock()
	sort.Slice(segs, func(i, j int) bool { return segs[i].Start < segs[j].Start })
	for _, g := range segs {
		for start := g.Start &^ (PageSize - 1); start < g.End; start += maxRun * PageSize {
			if err := o.syncChunk(start, min(g.End, start+maxRun*PageSize), Shared); err != nil {
				return err
			}
			o.mu.Lock()
			nd := o.ndirty
			o.mu.Unlock()
			if nd == 0 {
				break
			}
		}
	}
	if f, ok := o.pager.(Flusher); ok {
		if err := f.Flush(); err != nil {
			return o.errf(0, "flush: %w", err)
		}
	}
	return nil
}

// SyncRange writes back the modified pages of [off, off+n) without
// flushing the pager (a filesystem's ranged fsync, or a bulk writer keeping
// the dirty set small so eviction finds clean pages). It runs in parallel
// with SyncRanges of other ranges.
func (o *Object) SyncRange(off, n int64) error {
	if off < 0 || n <= 0 {
		return nil
	}
	end := min(off+n, o.Size())
	for start := off &^ (PageSize - 1); start < end; start += maxRun * PageSize {
		if err := o.syncChunk(start, min(end, start+maxRun*PageSize), Exclusive); err != nil {
			return err
		}
	}
	return nil
}

// syncChunk writes back the dirty pages of [start, end) under a range lock
// in mode (shared for Sync: writers wait, readers continue).
//
// Sync holds syncMu, so two Syncs never clear the same dirty bits; SyncRange
// takes its chunks exclusive instead, which excludes Sync's shared hold of
// the same chunk, other SyncRanges, writers and the evictor.
func (o *Object) syncChunk(start, end int64, mode Mode) error {
	lk := o.LockRange(start, end-start, mode)
	defer lk.Unlock()
	return o.writeBackLocked(start, end)
}

// WriteBack writes back the dirty pages the exclusive lock covers (for a
// caller about to replace what lies under them, like the block layer's raw
// writes, which then Discard).
func (l *RangeLock) WriteBack() error {
	if l.mode != Exclusive {
		panic("vm: WriteBack under a shared range lock")
	}
	o := l.o
	end := min(l.end, (o.Size()+PageSize-1)&^(PageSize-1))
	for start := l.start; start < end; start += maxRun * PageSize {
		if err := o.writeBackLocked(start, min(end, start+maxRun*PageSize)); err != nil {
			return err
		}
	}
	return nil
}

// writeBackLocked writes back the dirty pages of [start, end) (at most
// maxRun pages), whose range the caller holds locked.
func (o *Object) writeBackLocked(start, end int64) error {
	o.mu.Lock()
	size := o.size
	var dirty []*page
	for i := start >> pageShift; i<<pageShift < end; i++ {
		if pg := o.pages[i]; pg != nil && pg.dirty {
			dirty = append(dirty, pg)
		}
	}
	o.mu.Unlock()
	for i := 0; i < len(dirty); {
		j := i + 1
		for j < len(dirty) && dirty[j].index == dirty[j-1].index+1 {
			j++
		}
		if err := o.writeRun(dirty[i:j], size); err != nil {
			return err
		}
		for _, pg := range dirty[i:j] {
			pg.dirty = false
		}
		o.mu.Lock()
		o.ndirty -= j - i
		o.mu.Unlock()
		i = j
	}
	o.mu.Lock()
	o.states.set(start, end, Invalid, false)
	for i := start >> pageShift; i<<pageShift < end; i++ {
		if o.pages[i] != nil {
			o.states.set(i<<pageShift, min((i+1)<<pageShift, size), SharedState, false)
		}
	}
	o.mu.Unlock()
	return nil
}

// writeRun writes consecutive dirty pages, clipped to size.
func (o *Object) writeRun(run []*page, size int64) error {
	off := run[0].index << pageShift
	n := min(int64(len(run))*PageSize, size-off)
	if n <= 0 {
		return nil
	}
	o.stats.PagerWrites.Add(1)
	if vp, ok := o.pager.(VectorPager); ok && len(run) > 1 {
		list := make([][]byte, 0, len(run))
		for _, pg := range run {
			if c := min(int64(PageSize), n); c > 0 {
				list = append(list, pg.data[:c])
				n -= c
			}
		}
		if err := vp.WritePagesV(off, list); err != nil {
			return o.errf(off, "write back: %w", err)
		}
		return nil
	}
	var buf []byte
	if len(run) == 1 {
		buf = run[0].data[:n]
	} else {
		buf = make([]byte, len(run)*PageSize)
		for k, pg := range run {
			copy(buf[k*PageSize:], pg.data)
		}
		buf = buf[:n]
	}
	if err := o.pager.WritePages(off, buf); err != nil {
		return o.errf(off, "write back: %w", err)
	}
	return nil
}

// evictCluster is how many pages around a dirty victim the evictor tries
// to write back with it, in one pager call.
const evictCluster = 64

// tryEvict gives up pg if its page can be locked without waiting; a dirty
// page is written back first, together with the run of dirty pages around
// it when their range is free too (they stay cached, clean), so write-back
// under pressure is not a page at a time. It reports whether pg left the
// cache.
func (o *Object) tryEvict(pg *page) bool {
	i := pg.index
	o.mu.Lock()
	if o.pages[i] != pg {
		o.mu.Unlock()
		return false
	}
	lk := o.tryLockLocked(i<<pageShift, (i+1)<<pageShift, Exclusive)
	size := o.size
	o.mu.Unlock()
	if lk == nil {
		return false
	}
	defer lk.Unlock()
	if pg.dirty && !o.evictDirty(pg, size) {
		return false
	}
	o.mu.Lock()
	delete(o.pages, i)
	o.states.set(i<<pageShift, (i+1)<<pageShift, Invalid, false)
	o.mu.Unlock()
	if o.pool != nil {
		o.pool.drop(pg)
	}
	pg.release()
	return true
}

// evictDirty writes back the dirty victim pg (whose page the caller holds
// exclusive) with as many dirty neighbours as it can lock without waiting:
// ahead of it, then behind it, each in windows that shrink until one is
// free (a sequential writer leaves the oldest dirty page as the victim
// with its neighbours ahead, up to the page being written).
func (o *Object) evictDirty(pg *page, size int64) bool {
	i := pg.index
	last := (size + PageSize - 1) >> pageShift // pages [0, last)
	lo, hi := i, i+1
	var extra []*RangeLock
	o.mu.Lock()
	for n := int64(evictCluster / 2); n >= 1; n /= 2 {
		if e := min(i+1+n, last); e > i+1 {
			if l := o.tryLockLocked((i+1)<<pageShift, e<<pageShift, Exclusive); l != nil {
				extra, hi = append(extra, l), e
				break
			}
		}
	}
	for n := int64(evictCluster / 2); n >= 1; n /= 2 {
		if s := max(i-n, 0); s < i {
			if l := o.tryLockLocked(s<<pageShift, i<<pageShift, Exclusive); l != nil {
				extra, lo = append(extra, l), s
				break
			}
		}
	}
	first, end := i, i+1
	for first > lo && o.pages[first-1] != nil && o.pages[first-1].dirty {
		first--
	}
	for end < hi && o.pages[end] != nil && o.pages[end].dirty {
		end++
	}
	run := make([]*page, 0, end-first)
	for k := first; k < end; k++ {
		run = append(run, o.pages[k])
	}
	o.mu.Unlock()
	defer func() {
		// The neighbours' states: written pages are clean now, the rest of
		// the windows are as they were (E from the lock must not turn M).
		o.mu.Lock()
		o.restateLocked(lo, i)
		o.restateLocked(i+1, hi)
		o.mu.Unlock()
		for _, l := range extra {
			l.Unlock()
		}
	}()
	if err := o.writeRun(run, size); err != nil {
		return false
	}
	for _, r := range run {
		r.dirty = false
	}
	if o.pool != nil {
		o.pool.Writebacks.Add(uint64(len(run)))
	}
	o.mu.Lock()
	o.ndirty -= len(run)
	o.mu.Unlock()
	return true
}

// restateLocked recomputes the state map over pages [lo, hi) from the
// pages themselves (M dirty, S cached, I absent). Called with o.mu held by
// a holder of an exclusive lock over the range, so none of it is E.
func (o *Object) restateLocked(lo, hi int64) {
	o.states.set(lo<<pageShift, hi<<pageShift, Invalid, false)
	for i := lo; i < hi; i++ {
		pg := o.pages[i]
		if pg == nil {
			continue
		}
		st := SharedState
		if pg.dirty {
			st = Modified
		}
		o.states.set(i<<pageShift, min((i+1)<<pageShift, o.size), st, false)
	}
}

// Discard drops the cached pages of [off, off+n) without writing them back
// (the caller has replaced or discarded the data underneath).
func (o *Object) Discard(off, n int64) {
	if n <= 0 {
		return
	}
	lk := o.LockRange(off, n, Exclusive)
	defer lk.Unlock()
	lk.Discard()
}

// Discard drops the cached pages the exclusive lock covers, dirty or not.
// Pages only partly covered are dropped too, so the lock should be page
// aligned or the caller must not care about the rest of those pages (the
// block layer locks whole pages around raw writes).
func (l *RangeLock) Discard() {
	if l.mode != Exclusive {
		panic("vm: Discard under a shared range lock")
	}
	o := l.o
	o.mu.Lock()
	var gone []*page
	for i := l.start >> pageShift; i<<pageShift < l.end && i<<pageShift < o.size; i++ {
		if pg := o.pages[i]; pg != nil {
			if pg.dirty {
				o.ndirty--
			}
			delete(o.pages, i)
			gone = append(gone, pg)
		}
	}
	o.states.set(l.start&^(PageSize-1), min(l.end, o.size), Invalid, false)
	o.mu.Unlock()
	for _, pg := range gone {
		if o.pool != nil {
			o.pool.drop(pg)
		}
		pg.release()
	}
}

// Truncate sets the object's size. Cached bytes past the new end are
// dropped (the tail of the last page is zeroed so a later extension reads
// zeros) and the pager is truncated if it can be.
func (o *Object) Truncate(n int64) error {
	if n < 0 {
		return o.errf(n, "negative size")
	}
	if o.readOnly {
		return o.errf(n, "truncate: %w", ErrReadOnly)
	}
	if o.fixed {
		return o.errf(n, "truncate: %w", ErrFixedSize)
	}
	lk := o.LockRange(n&^(PageSize-1), 0, Exclusive)
	defer lk.Unlock()
	o.mu.Lock()
	var gone []*page
	keep := (n + PageSize - 1) >> pageShift // pages [keep, ...) go
	for i, pg := range o.pages {
		if i >= keep {
			if pg.dirty {
				o.ndirty--
			}
			delete(o.pages, i)
			gone = append(gone, pg)
		}
	}
	if pg := o.pages[n>>pageShift]; pg != nil && n&(PageSize-1) != 0 {
		clear(pg.data[n&(PageSize-1):])
	}
	o.size = n
	o.states.set(n, 1<<62, Invalid, false)
	o.mu.Unlock()
	for _, pg := range gone {
		if o.pool != nil {
			o.pool.drop(pg)
		}
		pg.release()
	}
	if t, ok := o.pager.(Truncater); ok {
		if err := t.Truncate(n); err != nil {
			return o.errf(n, "truncate: %w", err)
		}
	}
	return nil
}

// check verifies the object's invariants (tests).
func (o *Object) check() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.locks.checkLocked(); err != nil {
		return err
	}
	if err := o.states.check(); err != nil {
		return err
	}
	nd := 0
	for _, pg := range o.pages {
		if pg.dirty {
			nd++
		}
	}
	if nd != o.ndirty {
		return fmt.Errorf("vm: ndirty %d, counted %d", o.ndirty, nd)
	}
	return nil
}
