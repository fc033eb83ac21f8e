package virtio

// Split virtqueue, driver side (virtio 1.2 §2.7).
//
//	Descriptor Table  16 bytes per entry, 16-byte aligned   (§2.7.5)
//	  le64 addr; le32 len; le16 flags; le16 next
//	Available Ring    2-byte aligned                        (§2.7.6)
//	  le16 flags; le16 idx; le16 ring[size]; le16 used_event
//	Used Ring         4-byte aligned                        (§2.7.8)
//	  le16 flags; le16 idx; {le32 id; le32 len} ring[size]; le16 avail_event
//
// Ownership: the driver writes the descriptor table and the available
// ring, the device the used ring. Neither ring index is trusted beyond
// what the spec lets the device do: a used entry naming a descriptor that
// is not the head of an outstanding chain, or a used index that runs more
// than size entries ahead, is counted and dropped (or, for the index,
// marks the queue broken), never followed. Chains are freed by walking a
// driver-private copy of the next links, so a device rewriting the table
// cannot send us round a loop.
//
// The shared index words (avail flags+idx, used flags+idx, used_event,
// avail_event) are read and written as aligned 32-bit atomics: one access
// the device sees whole, a full fence on x86-64 for the store before the
// notify decision (§2.7.13.3 requires the idx store to be visible before
// reading the device's suppression fields), and happens-before edges the
// race detector understands when the device is simulated. Both rings get
// two bytes of padding so the trailing 16-bit event fields can be accessed
// the same way.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Descriptor flags (§2.7.5).
const (
	DescFNext     = 1
	DescFWrite    = 2
	DescFIndirect = 4
)

// Ring flags (§2.7.6, §2.7.8).
const (
	AvailFNoInterrupt = 1
	UsedFNoNotify     = 1
)

const descSize = 16

// Queue errors.
var (
	ErrQueueFull   = errors.New("virtio: queue full")
	ErrQueueBroken = errors.New("virtio: queue broken by device")
)

type slot struct {
	token  any
	active bool
	ndesc  uint16 // descriptors of the chain in the main table
	inLen  uint32 // bytes the device may write
	maps   []uint64
	keep   [][]byte // the buffers, so the collector cannot free memory the device owns
	ind    []byte   // indirect table, kept live until the device is done
	indAdr uint64
}

// QueueStats are a queue's counters.
type QueueStats struct {
	Notifies    atomic.Uint64
	NotifyAvoid atomic.Uint64 // kicks suppressed by event index / NO_NOTIFY
	Indirect    atomic.Uint64
	BadUsed     atomic.Uint64 // used entries dropped: bad id or not outstanding
	LenClamped  atomic.Uint64 // used lengths larger than the writable buffers
	Completions atomic.Uint64
}

// Queue is a split virtqueue.
type Queue struct {
	index    int
	size     uint16
	dma      DMA
	eventIdx bool
	indirect bool
	notify   func(index int)

	desc, avail, used             []byte
	descAddr, availAddr, usedAddr uint64

	mu         sync.Mutex // everything below
	freeHead   uint16
	numFree    int
	next       []uint16 // driver-private next links: free list and chains
	slots      []slot
	availIdx   uint16
	kicked     uint16
	lastUsed   uint16
	broken     error
	availFlags uint16
	irqOff     bool // DisableInterrupts: Poll does not re-arm used_event

	stats QueueStats
}

// NewQueue allocates a queue of size entries (a power of 2, at most 32768)
// using the negotiated features; notify is the transport's doorbell.
func NewQueue(index, size int, dma DMA, features uint64, notify func(int)) (*Queue, error) {
	if size < 2 || size > 32768 || size&(size-1) != 0 { // >= 2 keeps used_event 4-byte aligned
		return nil, fmt.Errorf("virtio: queue %d: bad size %d", index, size)
	}
	q := &Queue{
		index: index, size: uint16(size), dma: dma, notify: notify,
		eventIdx: features&FeatureEventIdx != 0,
		indirect: features&FeatureIndirectDesc != 0,
		next:     make([]uint16, size),
		slots:    make([]slot, size),
		numFree:  size,
	}
	q.desc, q.descAddr = dma.Alloc(descSize*size, 16)
	q.avail, q.availAddr = dma.Alloc(4+2*size+2+2, 4)
	q.used, q.usedAddr = dma.Alloc(4+8*size+2+2, 4)
	for i := range q.next {
		q.next[i] = uint16(i + 1)
	}
	return q, nil
}

// Index, Size and Addrs describe the queue for the transport.
func (q *Queue) Index() int { return q.index }
func (q *Queue) Size() int  { return int(q.size) }
func (q *Queue) Addrs() (desc, driver, device uint64) {
	return q.descAddr, q.availAddr, q.usedAddr
}
func (q *Queue) Stats() *QueueStats { return &q.stats }

// NumFree returns the number of free descriptors.
func (q *Queue) NumFree() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.numFree
}

func word(b []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[off]))
}

func putDesc(t []byte, i int, addr uint64, n uint32, flags, next uint16) {
	d := t[i*descSize : (i+1)*descSize]
	binary.LittleEndian.PutUint64(d[0:], addr)
	binary.LittleEndian.PutUint32(d[8:], n)
	binary.LittleEndian.PutUint16(d[12:], flags)
	binary.LittleEndian.PutUint16(d[14:], next)
}

// Add exposes out (device-readable) then in (device-writable) buffers as
// one request. token comes back from Poll when the device is done.
// Several buffers use one indirect descriptor when negotiated.
func (q *Queue) Add(out, in [][]byte, token any) error {
	total := len(out) + len(in)
	if total == 0 || total > 0xffff {
		return fmt.Errorf("virtio: queue %d: %d buffers", q.index, total)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.broken != nil {
		return q.broken
	}
	useInd := q.indirect && total > 1
	need := total
	if useInd {
		need = 1
	}
	if q.numFree < need {
		return ErrQueueFull
	}
	var inLen uint32
	maps := make([]uint64, 0, total)
	bufAddr := func(b []byte) uint64 {
		a := q.dma.Map(b)
		maps = append(maps, a)
		return a
	}
	head := q.freeHead
	s := slot{token: token, active: true, maps: maps}
	if useInd {
		s.ind, s.indAdr = q.dma.Alloc(descSize*total, 16)
		for i := 0; i < total; i++ {
			var b []byte
			var fl uint16
			if i < len(out) {
				b = out[i]
			} else {
				b, fl = in[i-len(out)], DescFWrite
				inLen += uint32(len(b))
			}
			nx := uint16(0)
			if i+1 < total {
				fl |= DescFNext
				nx = uint16(i + 1)
			}
			putDesc(s.ind, i, bufAddr(b), uint32(len(b)), fl, nx)
		}
		putDesc(q.desc, int(head), s.indAdr, uint32(descSize*total), DescFIndirect, 0)
		q.freeHead = q.next[head]
		s.ndesc = 1
		q.stats.Indirect.Add(1)
	} else {
		d := head
		for i := 0; i < total; i++ {
			var b []byte
			var fl uint16
			if i < len(out) {
				b = out[i]
			} else {
				b, fl = in[i-len(out)], DescFWrite
				inLen += uint32(len(b))
			}
			nx := q.next[d]
			if i+1 < total {
				fl |= DescFNext
			}
			putDesc(q.desc, int(d), bufAddr(b), uint32(len(b)), fl, nx)
			if i+1 < total {
				d = nx
			}
		}
		q.freeHead = q.next[d]
		s.ndesc = uint16(total)
	}
	q.numFree -= need
	s.inLen = inLen
	s.maps = maps
	s.keep = make([][]byte, 0, total)
	s.keep = append(append(s.keep, out...), in...)
	q.slots[head] = s
	// Publish: ring entry, then the index (§2.7.13.2).
	binary.LittleEndian.PutUint16(q.avail[4+2*int(q.availIdx%q.size):], head)
	q.availIdx++
	atomic.StoreUint32(word(q.avail, 0), uint32(q.availFlags)|uint32(q.availIdx)<<16)
	return nil
}

// needEvent is vring_need_event (§2.7.10): has idx crossed event since old?
func needEvent(event, newIdx, old uint16) bool {
	return newIdx-event-1 < newIdx-old
}

// Kick notifies the device of new buffers unless it asked not to be
// (§2.7.13.3: avail_event with VIRTIO_F_EVENT_IDX, else VIRTQ_USED_F_NO_NOTIFY).
func (q *Queue) Kick() {
	q.mu.Lock()
	old, cur := q.kicked, q.availIdx
	q.kicked = cur
	var need bool
	if q.eventIdx {
		ev := uint16(atomic.LoadUint32(word(q.used, 4+8*int(q.size))))
		need = needEvent(ev, cur, old)
	} else {
		need = uint16(atomic.LoadUint32(word(q.used, 0)))&UsedFNoNotify == 0
	}
	q.mu.Unlock()
	if old == cur {
		return
	}
	if need {
		q.stats.Notifies.Add(1)
		q.notify(q.index)
	} else {
		q.stats.NotifyAvoid.Add(1)
	}
}

// Completion is one finished request.
type Completion struct {
	Token   any
	Written uint32 // bytes the device reports writing, at most the writable length
}

// Poll collects finished requests (§2.7.14) into dst and returns it. With
// the event index it re-arms the interrupt (used_event = last seen) and
// rechecks, so a completion racing the re-arm is not missed.
func (q *Queue) Poll(dst []Completion) ([]Completion, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.broken != nil {
		return dst, q.broken
	}
	for {
		usedIdx := uint16(atomic.LoadUint32(word(q.used, 0)) >> 16)
		if n := usedIdx - q.lastUsed; n > q.size {
			q.broken = fmt.Errorf("%w: queue %d: used index ran %d ahead (size %d)", ErrQueueBroken, q.index, n, q.size)
			return dst, q.broken
		}
		for q.lastUsed != usedIdx {
			e := q.used[4+8*int(q.lastUsed%q.size):]
			id := binary.LittleEndian.Uint32(e[0:])
			n := binary.LittleEndian.Uint32(e[4:])
			q.lastUsed++
			if id >= uint32(q.size) || !q.slots[id].active {
				q.stats.BadUsed.Add(1)
				continue
			}
			s := &q.slots[id]
			if n > s.inLen {
				q.stats.LenClamped.Add(1)
				n = s.inLen
			}
			dst = append(dst, Completion{Token: s.token, Written: n})
			q.free(uint16(id))
			q.stats.Completions.Add(1)
		}
		if !q.eventIdx || q.irqOff {
			return dst, nil
		}
		atomic.StoreUint32(word(q.avail, 4+2*int(q.size)), uint32(q.lastUsed))
		if uint16(atomic.LoadUint32(word(q.used, 0))>>16) == q.lastUsed {
			return dst, nil
		}
	}
}

// DisableInterrupts asks the device not to interrupt for this queue while
// the driver polls it (NAPI style). With the event index, used_event is set
// one behind the last seen entry, so the device's index would have to wrap
// before it signals (§2.7.10); otherwise VIRTQ_AVAIL_F_NO_INTERRUPT is set
// (§2.7.7). Both are hints: a device may still interrupt.
func (q *Queue) DisableInterrupts() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.irqOff = true
	if q.eventIdx {
		atomic.StoreUint32(word(q.avail, 4+2*int(q.size)), uint32(q.lastUsed-1))
		return
	}
	q.availFlags |= AvailFNoInterrupt
	atomic.StoreUint32(word(q.avail, 0), uint32(q.availFlags)|uint32(q.availIdx)<<16)
}

// EnableInterrupts re-arms the interrupt for the next used entry and
// reports whether entries are already waiting: those raised no interrupt
// and the caller must Poll them (the re-check of §2.7.14).
func (q *Queue) EnableInterrupts() (pending bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.irqOff = false
	if q.eventIdx {
		atomic.StoreUint32(word(q.avail, 4+2*int(q.size)), uint32(q.lastUsed))
	} else {
		q.availFlags &^= AvailFNoInterrupt
		atomic.StoreUint32(word(q.avail, 0), uint32(q.availFlags)|uint32(q.availIdx)<<16)
	}
	return uint16(atomic.LoadUint32(word(q.used, 0))>>16) != q.lastUsed
}

// free returns head's chain to the free list using the private links.
func (q *Queue) free(head uint16) {
	s := &q.slots[head]
	for _, a := range s.maps {
		q.dma.Unmap(a)
	}
	if s.ind != nil {
		q.dma.Unmap(s.indAdr)
	}
	last := head
	for i := uint16(1); i < s.ndesc; i++ {
		last = q.next[last]
	}
	q.next[last] = q.freeHead
	q.freeHead = head
	q.numFree += int(s.ndesc)
	*s = slot{}
}

// Outstanding returns the tokens of requests the device has not returned
// (used when a device is reset or declared broken).
func (q *Queue) Outstanding() []any {
	q.mu.Lock()
	defer q.mu.Unlock()
	var r []any
	for i := range q.slots {
		if q.slots[i].active {
			r = append(r, q.slots[i].token)
		}
	}
	return r
}

// Check verifies the free-list invariants (tests, debug builds): the free list and the
// outstanding chains account for every descriptor exactly once.
func (q *Queue) Check() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := make([]bool, q.size)
	d := q.freeHead
	for i := 0; i < q.numFree; i++ {
		if d >= q.size || seen[d] {
			return fmt.Errorf("virtio: free list corrupt at %d", d)
		}
		seen[d] = true
		d = q.next[d]
	}
	for h := range q.slots {
		s := &q.slots[h]
		if !s.active {
			continue
		}
		d := uint16(h)
		for i := uint16(0); i < s.ndesc; i++ {
			if seen[d] {
				return fmt.Errorf("virtio: descriptor %d both free and in use", d)
			}
			seen[d] = true
			d = q.next[d]
		}
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("virtio: descriptor %d lost", i)
		}
	}
	return nil
}
