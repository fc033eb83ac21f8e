package ipi

import "sync/atomic"

// Func is the body of an IPI message. cpu is the CPU running it (the target).
type Func func(cpu int, arg any)

// entry is one FIFO slot. Its plain fields are published by fifo.windex.
type entry struct {
	fn  Func
	arg any
}

// cacheLinePad keeps the producer's and the consumer's indexes on separate cache lines so
// the two CPUs do not bounce one line between them on every message.
type cacheLinePad struct{ _ [64]byte }

// fifo is the single-producer/single-consumer ring from one source CPU to one target CPU.
//
// Invariants: rindex <= windex; windex-rindex <= len(ring); xindex <= rindex except while
// nested processing (see Queue.processFIFO) completes a later entry first. Indexes only grow.
type fifo struct {
	// windex is written only by the producer (the source CPU).
	windex atomic.Uint64
	_      cacheLinePad
	// rindex (entries taken) and xindex (entries finished) are written only by the consumer.
	rindex atomic.Uint64
	xindex atomic.Uint64
	_      cacheLinePad
	ring   []entry
	mask   uint64
}

func newFIFO(size int) *fifo {
	return &fifo{ring: make([]entry, size), mask: uint64(size - 1)}
}

// halfFull reports whether the producer must wait before adding an entry. The producer
// keeps at least half of the ring free, as DragonFly does, so that entries queued by a
// target processing its own FIFOs during a wait still find room.
func (f *fifo) halfFull() bool {
	return f.windex.Load()-f.rindex.Load() >= uint64(len(f.ring)/2)
}

// put appends an entry. Only the producer calls it, after halfFull returned false.
func (f *fifo) put(fn Func, arg any) uint64 {
	w := f.windex.Load()
	if w-f.rindex.Load() >= uint64(len(f.ring)) {
		panic("ipi: fifo overflow (producer did not wait for room)")
	}
	f.ring[w&f.mask] = entry{fn: fn, arg: arg}
	f.windex.Store(w + 1) // release: publishes the slot
	return w + 1
}

// take removes the oldest entry, returning ok=false when the FIFO is empty. Only the
// consumer calls it. The returned sequence number is the one put returned for the entry.
func (f *fifo) take() (e entry, seq uint64, ok bool) {
	r := f.rindex.Load()
	if r == f.windex.Load() { // acquire: the slot's fields are visible after this load
		return entry{}, 0, false
	}
	slot := &f.ring[r&f.mask]
	e = *slot
	*slot = entry{} // drop references for the collector before handing the slot back
	f.rindex.Store(r + 1)
	return e, r + 1, true
}

// finish records that the entry with sequence number seq has run. Nested processing can
// finish entries out of order; the completion index only moves forward.
func (f *fifo) finish(seq uint64) {
	for {
		x := f.xindex.Load()
		if x >= seq || f.xindex.CompareAndSwap(x, seq) {
			return
		}
	}
}

func (f *fifo) empty() bool { return f.rindex.Load() == f.windex.Load() }
