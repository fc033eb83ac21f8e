package vnet

// Interrupt suppression the core's Queue does not expose.
//
// NAPI-style polling needs "disable the queue's used-buffer interrupt" and
// "enable it, then tell me whether anything arrived meanwhile"
// (virtio 1.2 §2.7.10: VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with
// VIRTIO_F_EVENT_IDX). virtio.Queue re-arms used_event at the end of every
// Poll and always writes avail flags as 0, and has no method for either,
// so the driver reaches the two fields itself:
//
//   - NewQueue is given a recordingDMA that remembers the ring memory it
//     allocates; the avail and used rings are found by the bus addresses
//     Queue.Addrs reports, not by allocation order.
//   - The queue's position in the used ring (its private last_used) is the
//     number of used entries it consumed: Completions + BadUsed, each of
//     which Poll increments exactly once per entry.
//   - Every access is an aligned 32-bit atomic, as the core's own, so the
//     simulated device, the core and this file agree under the race
//     detector.
//
// If the rings cannot be found (a future core allocating differently) the
// control degrades to "always enabled": correct, only noisier. The core
// should grow Queue.DisableInterrupts/EnableInterrupts (returning whether
// used entries are pending) and this file then goes away.

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"damselfly/virtio"
)

// recordingDMA passes everything to the driver's DMA and, while record is
// set (during NewQueue), remembers the memory behind each allocation.
type recordingDMA struct {
	virtio.DMA
	mu     sync.Mutex
	record bool
	allocs map[uint64][]byte
}

func (r *recordingDMA) Alloc(size, align int) ([]byte, uint64) {
	b, a := r.DMA.Alloc(size, align)
	r.mu.Lock()
	if r.record {
		r.allocs[a] = b
	}
	r.mu.Unlock()
	return b, a
}

// newQueue builds a core queue and its interrupt control.
func newQueue(dma virtio.DMA, index, size int, features uint64, notify func(int)) (*virtio.Queue, *irqCtl, error) {
	rec := &recordingDMA{DMA: dma, record: true, allocs: map[uint64][]byte{}}
	q, err := virtio.NewQueue(index, size, rec, features, notify)
	rec.mu.Lock()
	rec.record = false
	allocs := rec.allocs
	rec.allocs = nil
	rec.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	c := &irqCtl{q: q, size: size, eventIdx: features&virtio.FeatureEventIdx != 0}
	_, drv, dev := q.Addrs()
	avail, used := allocs[drv], allocs[dev]
	if len(avail) >= 4+2*size+4 && len(used) >= 4+8*size+4 &&
		uintptr(unsafe.Pointer(&avail[0]))%4 == 0 && uintptr(unsafe.Pointer(&used[0]))%4 == 0 {
		c.avail, c.used = avail, used
	}
	return q, c, nil
}

// irqCtl switches one queue's used-buffer interrupt.
type irqCtl struct {
	q           *virtio.Queue
	size        int
	eventIdx    bool
	avail, used []byte // nil: rings not found, control disabled
}

func word32(b []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

// lastUsed is the queue's consumer position in the used ring.
func (c *irqCtl) lastUsed() uint16 {
	s := c.q.Stats()
	return uint16(s.Completions.Load() + s.BadUsed.Load())
}

// usedIdx is the device's producer position.
func (c *irqCtl) usedIdx() uint16 {
	return uint16(atomic.LoadUint32(word32(c.used, 0)) >> 16)
}

// pending reports whether the device has returned buffers not yet polled
// (virtqueue_poll). Without the rings it answers true, so callers poll.
func (c *irqCtl) pending() bool {
	if c.used == nil {
		return true
	}
	return c.usedIdx() != c.lastUsed()
}

// disable asks the device not to interrupt. With the event index, used_event
// is put one behind the device's current index: the device signals only
// when its index steps over used_event (§2.7.10), which it has just passed,
// so it stays quiet until 65536 more entries (a harmless spurious interrupt
// at worst). Without it, VIRTQ_AVAIL_F_NO_INTERRUPT is set; the core's Add
// rewrites the flags as 0, so callers disable again after adding buffers.
func (c *irqCtl) disable() {
	if c.avail == nil {
		return
	}
	if c.eventIdx {
		atomic.StoreUint32(word32(c.avail, 4+2*c.size), uint32(c.usedIdx()-1))
		return
	}
	w := word32(c.avail, 0)
	for {
		old := atomic.LoadUint32(w)
		if old&virtio.AvailFNoInterrupt != 0 || atomic.CompareAndSwapUint32(w, old, old|virtio.AvailFNoInterrupt) {
			return
		}
	}
}

// enable re-arms the interrupt for the next used entry. The caller then
// checks pending: an entry that arrived before the re-arm raised no
// interrupt and must be polled (§2.7.14's re-check).
func (c *irqCtl) enable() {
	if c.avail == nil {
		return
	}
	if c.eventIdx {
		atomic.StoreUint32(word32(c.avail, 4+2*c.size), uint32(c.lastUsed()))
		return
	}
	w := word32(c.avail, 0)
	for {
		old := atomic.LoadUint32(w)
		if old&virtio.AvailFNoInterrupt == 0 || atomic.CompareAndSwapUint32(w, old, old&^virtio.AvailFNoInterrupt) {
			return
		}
	}
}
