package vm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"testing"
)

// memPager is a test backing store. It checks the pager contract.
type memPager struct {
	mu     sync.Mutex
	data   []byte
	reads  int
	writes int
	fail   error
	ro     bool
}

func newMemPager(size int) *memPager { return &memPager{data: make([]byte, size)} }

func (m *memPager) ReadPages(off int64, p []byte) error {
	if off%PageSize != 0 || len(p)%PageSize != 0 {
		return fmt.Errorf("misaligned read %d+%d", off, len(p))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.reads++
	clear(p)
	if off < int64(len(m.data)) {
		copy(p, m.data[off:])
	}
	return nil
}

func (m *memPager) WritePages(off int64, p []byte) error {
	if off%PageSize != 0 {
		return fmt.Errorf("misaligned write %d", off)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.writes++
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		m.data = append(m.data, make([]byte, end-int64(len(m.data)))...)
	}
	copy(m.data[off:], p)
	return nil
}

func (m *memPager) Size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.data))
}

func (m *memPager) Truncate(n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n < int64(len(m.data)) {
		m.data = m.data[:n]
	} else {
		m.data = append(m.data, make([]byte, n-int64(len(m.data)))...)
	}
	return nil
}

func (m *memPager) ReadOnly() bool { return m.ro }

func (m *memPager) snapshot() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data)
}

func mustCheck(t *testing.T, o *Object) {
	t.Helper()
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
}

func TestReadWriteBasic(t *testing.T) {
	const size = 5*PageSize + 123
	pg := newMemPager(size)
	rand.New(rand.NewSource(1)).Read(pg.data)
	want := bytes.Clone(pg.data)
	o := NewObject("t", pg, nil)

	tests := []struct{ off, n int }{
		{0, 1}, {0, PageSize}, {PageSize - 3, 7}, {100, 3 * PageSize}, {size - 10, 10}, {0, size},
	}
	for _, tc := range tests {
		buf := make([]byte, tc.n)
		n, err := o.ReadAt(buf, int64(tc.off))
		if err != nil || n != tc.n || !bytes.Equal(buf, want[tc.off:tc.off+tc.n]) {
			t.Fatalf("ReadAt(%d,%d) = %d, %v; data ok %v", tc.off, tc.n, n, err, bytes.Equal(buf, want[tc.off:tc.off+tc.n]))
		}
	}
	// Short read at the end and EOF past it.
	buf := make([]byte, 100)
	if n, err := o.ReadAt(buf, size-40); n != 40 || err != io.EOF {
		t.Fatalf("short read = %d, %v", n, err)
	}
	if n, err := o.ReadAt(buf, size); n != 0 || err != io.EOF {
		t.Fatalf("read at end = %d, %v", n, err)
	}
	// Writes stay cached until Sync.
	patch := []byte("hello, range locks")
	if _, err := o.WriteAt(patch, PageSize-5); err != nil {
		t.Fatal(err)
	}
	copy(want[PageSize-5:], patch)
	if !bytes.Equal(pg.snapshot()[PageSize-5:PageSize-5+len(patch)], pg.data[PageSize-5:PageSize-5+len(patch)]) {
		t.Fatal("unexpected")
	}
	got := make([]byte, size)
	if _, err := o.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read after write: %v", err)
	}
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pg.snapshot(), want) {
		t.Fatal("pager differs after sync")
	}
	if _, d := o.Resident(); d != 0 {
		t.Fatalf("%d dirty pages after sync", d)
	}
	for _, s := range o.States() {
		if s.State == Modified || s.State == ExclusiveState {
			t.Fatalf("state %v left after sync", s)
		}
	}
	mustCheck(t, o)
}

func TestExtendAndTruncate(t *testing.T) {
	pg := newMemPager(0)
	o := NewObject("t", pg, nil)
	if _, err := o.WriteAt([]byte("abc"), 3*PageSize+10); err != nil {
		t.Fatal(err)
	}
	if o.Size() != 3*PageSize+13 {
		t.Fatalf("size %d", o.Size())
	}
	hole := make([]byte, 3*PageSize+10)
	if _, err := o.ReadAt(hole, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hole, make([]byte, len(hole))) {
		t.Fatal("hole not zero")
	}
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	if int64(len(pg.snapshot())) != o.Size() {
		t.Fatalf("pager size %d, object %d", len(pg.snapshot()), o.Size())
	}
	if err := o.Truncate(3*PageSize + 11); err != nil {
		t.Fatal(err)
	}
	if _, err := o.WriteAt([]byte("z"), 3*PageSize+20); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 11)
	if _, err := o.ReadAt(b, 3*PageSize+10); err != nil {
		t.Fatal(err)
	}
	if want := []byte{'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 'z'}; !bytes.Equal(b, want) {
		t.Fatalf("after truncate+extend %q", b)
	}
	if err := o.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if p, _ := o.Resident(); p != 0 || o.Size() != 0 {
		t.Fatalf("after truncate(0): %d pages, size %d", p, o.Size())
	}
	mustCheck(t, o)
}

func TestErrors(t *testing.T) {
	pg := newMemPager(4 * PageSize)
	o := NewObject("disk0", pg, nil)
	boom := errors.New("boom")
	pg.fail = boom
	_, err := o.ReadAt(make([]byte, 10), PageSize)
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if want := "vm: object disk0 at offset 4096"; err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Fatalf("error %q lacks %q", err, want)
	}
	pg.fail = nil
	if _, err := o.WriteAt([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	pg.fail = boom
	if err := o.Sync(); !errors.Is(err, boom) {
		t.Fatalf("sync err %v", err)
	}
	pg.fail = nil
	if err := o.Sync(); err != nil || pg.snapshot()[0] != 1 {
		t.Fatalf("retry sync: %v", err)
	}
	ro := newMemPager(PageSize)
	ro.ro = true
	r := NewObject("ro", ro, nil)
	if _, err := r.WriteAt([]byte{1}, 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only write: %v", err)
	}
	if _, err := o.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative offset accepted")
	}
}

// Writers on disjoint ranges run in parallel and all their data lands.
func TestParallelDisjointWriters(t *testing.T) {
	const writers, per = 8, 3*PageSize + 100
	pg := newMemPager(writers * per)
	o := NewObject("t", pg, NewPool(16))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for i := range 50 {
				n := 1 + rng.Intn(per)
				off := rng.Intn(per - n + 1)
				b := bytes.Repeat([]byte{byte(w*50 + i)}, n)
				if _, err := o.WriteAt(b, int64(w*per+off)); err != nil {
					t.Error(err)
					return
				}
			}
			// Finish with a full-range write so the final state is known.
			b := bytes.Repeat([]byte{byte(w + 1)}, per)
			if _, err := o.WriteAt(b, int64(w*per)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	data := pg.snapshot()
	for w := range writers {
		if !bytes.Equal(data[w*per:(w+1)*per], bytes.Repeat([]byte{byte(w + 1)}, per)) {
			t.Fatalf("writer %d range wrong", w)
		}
	}
	mustCheck(t, o)
}

// Readers overlapping concurrent writers never see a torn write, also while
// a small pool evicts and writes back under them.
func TestNoTornReads(t *testing.T) {
	const base, span = 1000, 5*PageSize + 77
	pg := newMemPager(base + span + PageSize)
	o := NewObject("t", pg, NewPool(4))
	if _, err := o.WriteAt(make([]byte, span), base); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				b := bytes.Repeat([]byte{byte(1 + w*40 + i)}, span)
				if _, err := o.WriteAt(b, base); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if err := o.Sync(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(r)))
			for range 100 {
				n := 1 + rng.Intn(span)
				off := rng.Intn(span - n + 1)
				b := make([]byte, n)
				if _, err := o.ReadAt(b, int64(base+off)); err != nil {
					t.Error(err)
					return
				}
				for _, c := range b {
					if c != b[0] {
						t.Errorf("torn read at %d+%d: %d and %d", base+off, n, b[0], c)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	mustCheck(t, o)
}

func TestLockAggregationBound(t *testing.T) {
	o := NewObject("t", newMemPager(0), nil)
	// Adjacent shared locks fold into one record.
	var held []*RangeLock
	for i := range 1000 {
		held = append(held, o.LockRange(int64(i)*PageSize, PageSize, Shared))
	}
	if n := o.LockRecords(); n != 1 {
		t.Fatalf("adjacent shared: %d records", n)
	}
	// A writer cannot get in while any of them is held...
	if lk := o.TryLockRange(500*PageSize, 1, Exclusive); lk != nil {
		t.Fatal("exclusive granted over shared")
	}
	for _, l := range held[:999] {
		l.Unlock()
	}
	if lk := o.TryLockRange(500*PageSize, 1, Exclusive); lk != nil {
		t.Fatal("exclusive granted over the folded record")
	}
	held[999].Unlock()
	if n := o.LockRecords(); n != 0 {
		t.Fatalf("%d records after release", n)
	}
	// Gapped locks: the count stays bounded.
	held = held[:0]
	for i := range 1000 {
		held = append(held, o.LockRange(int64(i)*2*PageSize, PageSize, Shared))
	}
	if n := o.LockRecords(); n > lockRecordLimit {
		t.Fatalf("gapped shared: %d records > %d", n, lockRecordLimit)
	}
	mustCheck(t, o)
	for _, l := range held {
		l.Unlock()
	}
	// Adjacent exclusive locks also fold; overlapping exclusive conflict.
	a := o.LockRange(0, PageSize, Exclusive)
	b := o.LockRange(PageSize, PageSize, Exclusive)
	if n := o.LockRecords(); n != 1 {
		t.Fatalf("adjacent exclusive: %d records", n)
	}
	if o.TryLockRange(5, 1, Shared) != nil || o.TryLockRange(2*PageSize-1, 5, Exclusive) != nil {
		t.Fatal("conflicting lock granted")
	}
	if c := o.TryLockRange(2*PageSize, 5, Shared); c == nil {
		t.Fatal("disjoint shared lock refused")
	} else {
		c.Unlock()
	}
	// Locks cover whole pages: disjoint bytes of one page conflict.
	if o.TryLockRange(3*PageSize+10, 10, Exclusive) == nil {
		t.Fatal("lock refused")
	} else if o.TryLockRange(3*PageSize+100, 10, Exclusive) != nil {
		t.Fatal("two writers granted the same page")
	}
	a.Unlock()
	b.Unlock()
	mustCheck(t, o)
}

// A waiting writer blocks new overlapping readers, so it is not starved.
func TestWriterNotStarved(t *testing.T) {
	o := NewObject("t", newMemPager(0), nil)
	r1 := o.LockRange(0, 100, Shared)
	got := make(chan *RangeLock)
	go func() { got <- o.LockRange(50, 10, Exclusive) }()
	// Wait until the writer is queued (observable through the waiter list).
	for {
		o.mu.Lock()
		n := len(o.locks.xwaiters)
		o.mu.Unlock()
		if n == 1 {
			break
		}
		runtimeGosched()
	}
	if o.TryLockRange(55, 1, Shared) != nil {
		t.Fatal("reader overtook a waiting writer")
	}
	r1.Unlock()
	w := <-got
	w.Unlock()
	mustCheck(t, o)
}

func TestEviction(t *testing.T) {
	const pages = 64
	pg := newMemPager(pages * PageSize)
	rand.New(rand.NewSource(2)).Read(pg.data)
	want := bytes.Clone(pg.data)
	pool := NewPool(8)
	o := NewObject("t", pg, pool)
	buf := make([]byte, PageSize)
	for i := range pages {
		if _, err := o.ReadAt(buf, int64(i)*PageSize); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want[i*PageSize:(i+1)*PageSize]) {
			t.Fatalf("page %d wrong", i)
		}
	}
	if r := pool.Resident(); r > 8 {
		t.Fatalf("%d resident pages, budget 8", r)
	}
	if pool.Evictions.Load() < pages-8 {
		t.Fatalf("%d evictions", pool.Evictions.Load())
	}
	// Dirty pages get written back when evicted.
	for i := range pages {
		b := bytes.Repeat([]byte{byte(i)}, PageSize)
		if _, err := o.WriteAt(b, int64(i)*PageSize); err != nil {
			t.Fatal(err)
		}
		copy(want[i*PageSize:], b)
	}
	if pool.Writebacks.Load() == 0 {
		t.Fatal("no write-back under pressure")
	}
	// Write-back under pressure is clustered: far fewer pager writes than
	// pages written back.
	if w := pg.writes; w*4 > int(pool.Writebacks.Load()) {
		t.Fatalf("%d pager writes for %d pages written back", w, pool.Writebacks.Load())
	}
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pg.snapshot(), want) {
		t.Fatal("pager content wrong after eviction and sync")
	}
	mustCheck(t, o)
}

func TestReadCachedAndDiscard(t *testing.T) {
	pg := newMemPager(4 * PageSize)
	pg.data[PageSize] = 7
	o := NewObject("t", pg, nil)
	b := make([]byte, 10)
	if o.ReadCached(b, PageSize) {
		t.Fatal("cold range reported cached")
	}
	if _, err := o.ReadAt(b, PageSize); err != nil {
		t.Fatal(err)
	}
	b[0] = 0
	if !o.ReadCached(b, PageSize) || b[0] != 7 {
		t.Fatal("warm range not served")
	}
	o.Discard(PageSize, 10)
	if o.ReadCached(b, PageSize) {
		t.Fatal("discarded range still cached")
	}
	mustCheck(t, o)
}

func TestStateMap(t *testing.T) {
	var m stateMap
	m.set(0, 100, SharedState, false)
	m.set(40, 60, Modified, false)
	m.set(0, 100, SharedState, true) // weak: must not hide M
	want := []Segment{{0, 40, SharedState}, {40, 60, Modified}, {60, 100, SharedState}}
	if fmt.Sprint(m.segs) != fmt.Sprint(want) {
		t.Fatalf("segs %v want %v", m.segs, want)
	}
	m.set(0, 100, Invalid, false)
	if len(m.segs) != 0 {
		t.Fatalf("segs %v after invalidate", m.segs)
	}
	// Folding bounds the map and keeps every M byte inside an M segment.
	for i := range int64(1000) {
		st := SharedState
		if i%3 == 0 {
			st = Modified
		}
		m.set(i*10, i*10+5, st, false)
	}
	if len(m.segs) > stateSegLimit {
		t.Fatalf("%d segments", len(m.segs))
	}
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 1000; i += 3 {
		found := false
		for _, g := range m.segs {
			if g.State == Modified && g.Start <= i*10 && i*10+5 <= g.End {
				found = true
			}
		}
		if !found {
			t.Fatalf("modified range %d lost by folding", i*10)
		}
	}
}

// Objects sharing a pool share its budget: reading two objects keeps the
// total resident pages within it and both stay correct.
func TestPoolSharedByObjects(t *testing.T) {
	pool := NewPool(16)
	a, b := newMemPager(64*PageSize), newMemPager(64*PageSize)
	for i := range a.data {
		a.data[i], b.data[i] = 1, 2
	}
	oa, ob := NewObject("a", a, pool), NewObject("b", b, pool)
	buf := make([]byte, PageSize)
	for i := range 64 {
		for k, o := range []*Object{oa, ob} {
			if _, err := o.ReadAt(buf, int64(i)*PageSize); err != nil {
				t.Fatal(err)
			}
			if buf[0] != byte(k+1) || buf[PageSize-1] != byte(k+1) {
				t.Fatalf("object %d page %d wrong", k, i)
			}
		}
	}
	pa, _ := oa.Resident()
	pb, _ := ob.Resident()
	if pool.Resident() > 16 || pa+pb != pool.Resident() {
		t.Fatalf("resident a=%d b=%d pool=%d (budget 16)", pa, pb, pool.Resident())
	}
	if pool.Overcommit.Load() != 0 {
		t.Fatalf("%d overcommits with nothing locked", pool.Overcommit.Load())
	}
}

func TestSyncRange(t *testing.T) {
	pg := newMemPager(16 * PageSize)
	o := NewObject("t", pg, nil)
	for i := range 16 {
		if _, err := o.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, PageSize), int64(i)*PageSize); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.SyncRange(4*PageSize+100, 3*PageSize); err != nil {
		t.Fatal(err)
	}
	data := pg.snapshot()
	for i := range 16 {
		synced := i >= 4 && i <= 7
		if (data[i*PageSize] == byte(i+1)) != synced {
			t.Fatalf("page %d synced=%v, want %v", i, data[i*PageSize] == byte(i+1), synced)
		}
	}
	if _, d := o.Resident(); d != 12 {
		t.Fatalf("%d dirty pages left, want 12", d)
	}
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, d := o.Resident(); d != 0 {
		t.Fatalf("%d dirty after Sync", d)
	}
	mustCheck(t, o)
}
