package ipi

import "sync/atomic"

// Func is the body of an IPI message. cpu is the CPU running it (the target).
type Func func(cpu int, arg any)

// entry is a message as a sender gives it and a receiver runs it.
type entry struct {
	fn  Func
	arg any
}

// slot is one FIFO position. seq publishes the slot: the producer writes fn and arg, then
// stores seq = (its index) + 1; the consumer waiting for index r polls for seq == r+1. The
// consumer thus learns that an entry exists and reads it from one cache line, where a
// separate producer index would cost a second line to move between the CPUs.
type slot struct {
	seq atomic.Uint64
	fn  Func
	arg any
}

// cacheLinePad keeps data written by different CPUs on separate cache lines so that they do
// not bounce one line between them on every message.
type cacheLinePad struct{ _ [64]byte }

// fifo is the single-producer/single-consumer ring from one source CPU to one target CPU.
//
// Invariants: rindex <= windex; windex-rindex <= len(ring); xindex <= rindex except while
// nested processing (see Queue.Process) completes a later entry first; rcache <= rindex.
// Indexes only grow; slot i of lap k holds seq k*len(ring)+i+1 once published.
type fifo struct {
	// The producer's line: windex (entries put) and rcache (the last rindex it read) are
	// read and written only by the source CPU. The producer reads rindex itself only when
	// rcache says the ring is half full, so in the common case it touches no line the
	// consumer writes except the slot it fills.
	windex uint64
	rcache uint64
	_      cacheLinePad
	// rindex (entries taken) and xindex (entries finished) are written only by the consumer.
	rindex atomic.Uint64
	xindex atomic.Uint64
	_      cacheLinePad
	ring   []slot
	mask   uint64
}

func newFIFO(size int) *fifo {
	return &fifo{ring: make([]slot, size), mask: uint64(size - 1)}
}

// halfFull reports whether the producer must wait before adding an entry. The producer
// keeps at least half of the ring free, as DragonFly does, so that entries queued by a
// target processing its own FIFOs during a wait still find room. Producer only.
func (f *fifo) halfFull() bool {
	half := uint64(len(f.ring) / 2)
	if f.windex-f.rcache < half {
		return false
	}
	f.rcache = f.rindex.Load()
	return f.windex-f.rcache >= half
}

// put appends an entry and returns its sequence number. Only the producer calls it, after
// halfFull returned false.
func (f *fifo) put(fn Func, arg any) uint64 {
	w := f.windex
	if w-f.rcache >= uint64(len(f.ring)) {
		panic("ipi: fifo overflow (producer did not wait for room)")
	}
	s := &f.ring[w&f.mask]
	s.fn, s.arg = fn, arg
	f.windex = w + 1
	s.seq.Store(w + 1) // release: publishes fn and arg
	return w + 1
}

// take removes the oldest entry, returning ok=false when the FIFO is empty. Only the
// consumer calls it. The returned sequence number is the one put returned for the entry.
func (f *fifo) take() (e entry, seq uint64, ok bool) {
	r := f.rindex.Load()
	s := &f.ring[r&f.mask]
	if s.seq.Load() != r+1 { // acquire: fn and arg are visible after this load
		return entry{}, 0, false
	}
	e = entry{fn: s.fn, arg: s.arg}
	s.fn, s.arg = nil, nil // drop references for the collector before handing the slot back
	f.rindex.Store(r + 1)
	return e, r + 1, true
}

// finish records that the entry with sequence number seq has run. Nested processing can
// finish entries out of order; the completion index only moves forward. Consumer only (the
// only writer of xindex).
func (f *fifo) finish(seq uint64) {
	if f.xindex.Load() < seq {
		f.xindex.Store(seq)
	}
}

// empty reports whether no entry waits. Any goroutine.
func (f *fifo) empty() bool {
	r := f.rindex.Load()
	return f.ring[r&f.mask].seq.Load() != r+1
}
