package virtiosim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"damselfly/virtio"
)

// Buf is one buffer of a descriptor chain as the device sees it.
type Buf struct {
	B     []byte
	Write bool // device-writable
}

// Queue is the device side of a split virtqueue (virtio 1.2 §2.7).
type Queue struct {
	mem                  *Memory
	size                 uint16
	descA, availA, usedA uint64
	eventIdx             bool

	lastAvail uint16
	usedIdx   uint16
	signalled uint16 // used index at the last interrupt
}

// NewQueue attaches to rings the driver set up.
func NewQueue(mem *Memory, size uint16, desc, avail, used uint64, eventIdx bool) *Queue {
	return &Queue{mem: mem, size: size, descA: desc, availA: avail, usedA: used, eventIdx: eventIdx}
}

func (q *Queue) word(base uint64, off uint32) (*uint32, error) {
	b, err := q.mem.Slice(base+uint64(off), 4)
	if err != nil {
		return nil, err
	}
	return (*uint32)(unsafe.Pointer(&b[0])), nil
}

// Pop takes the next available chain head.
func (q *Queue) Pop() (head uint16, ok bool, err error) {
	w, err := q.word(q.availA, 0)
	if err != nil {
		return 0, false, err
	}
	idx := uint16(atomic.LoadUint32(w) >> 16)
	if idx == q.lastAvail {
		return 0, false, nil
	}
	if idx-q.lastAvail > q.size {
		return 0, false, fmt.Errorf("virtiosim: avail idx %d ran ahead of %d", idx, q.lastAvail)
	}
	r, err := q.mem.Slice(q.availA+4+2*uint64(q.lastAvail%q.size), 2)
	if err != nil {
		return 0, false, err
	}
	head = binary.LittleEndian.Uint16(r)
	q.lastAvail++
	if q.eventIdx {
		// Ask to be notified as soon as anything new arrives.
		ev, err := q.word(q.usedA, 4+8*uint32(q.size))
		if err != nil {
			return 0, false, err
		}
		atomic.StoreUint32(ev, uint32(q.lastAvail))
	}
	return head, true, nil
}

// ErrChain reports a malformed descriptor chain.
var ErrChain = errors.New("virtiosim: bad descriptor chain")

// Chain resolves a chain (following one level of indirection, §2.7.5.3),
// with loops, bad indexes, bad addresses and readable-after-writable
// buffers reported as errors.
func (q *Queue) Chain(head uint16) ([]Buf, error) {
	return ParseChain(q.mem, q.descA, q.size, head)
}

// ParseChain is Chain over an explicit table; exported for fuzzing.
func ParseChain(mem *Memory, tableAddr uint64, tableSize uint16, head uint16) ([]Buf, error) {
	table, err := mem.Slice(tableAddr, 16*uint32(tableSize))
	if err != nil {
		return nil, err
	}
	n := uint32(tableSize)
	i := uint32(head)
	indirect := false
	var bufs []Buf
	seenWrite := false
	for steps := uint32(0); ; steps++ {
		if i >= n {
			return nil, fmt.Errorf("%w: index %d >= %d", ErrChain, i, n)
		}
		if steps >= n {
			return nil, fmt.Errorf("%w: longer than its table (loop)", ErrChain)
		}
		d := table[16*i : 16*i+16]
		addr := binary.LittleEndian.Uint64(d[0:])
		ln := binary.LittleEndian.Uint32(d[8:])
		fl := binary.LittleEndian.Uint16(d[12:])
		nx := binary.LittleEndian.Uint16(d[14:])
		if fl&virtio.DescFIndirect != 0 {
			if indirect || fl&virtio.DescFNext != 0 || len(bufs) != 0 {
				return nil, fmt.Errorf("%w: misplaced indirect descriptor", ErrChain)
			}
			if ln == 0 || ln%16 != 0 || ln/16 > 0xffff {
				return nil, fmt.Errorf("%w: indirect table length %d", ErrChain, ln)
			}
			table, err = mem.Slice(addr, ln)
			if err != nil {
				return nil, err
			}
			n, i, indirect, steps = ln/16, 0, true, 0
			steps-- // the loop increments
			continue
		}
		b, err := mem.Slice(addr, ln)
		if err != nil {
			return nil, err
		}
		w := fl&virtio.DescFWrite != 0
		if !w && seenWrite {
			return nil, fmt.Errorf("%w: readable buffer after a writable one", ErrChain)
		}
		seenWrite = seenWrite || w
		bufs = append(bufs, Buf{B: b, Write: w})
		if fl&virtio.DescFNext == 0 {
			return bufs, nil
		}
		i = uint32(nx)
	}
}

// Push returns a chain to the driver with n bytes written and reports
// whether the driver wants an interrupt (§2.7.10 used_event, else
// VIRTQ_AVAIL_F_NO_INTERRUPT).
func (q *Queue) Push(head uint16, n uint32) (bool, error) {
	e, err := q.mem.Slice(q.usedA+4+8*uint64(q.usedIdx%q.size), 8)
	if err != nil {
		return false, err
	}
	binary.LittleEndian.PutUint32(e[0:], uint32(head))
	binary.LittleEndian.PutUint32(e[4:], n)
	q.usedIdx++
	w, err := q.word(q.usedA, 0)
	if err != nil {
		return false, err
	}
	atomic.StoreUint32(w, uint32(q.usedIdx)<<16)
	return q.wantInterrupt()
}

func (q *Queue) wantInterrupt() (bool, error) {
	if q.eventIdx {
		w, err := q.word(q.availA, 4+2*uint32(q.size))
		if err != nil {
			return false, err
		}
		ev := uint16(atomic.LoadUint32(w))
		old := q.signalled
		if q.usedIdx-ev-1 < q.usedIdx-old {
			q.signalled = q.usedIdx
			return true, nil
		}
		return false, nil
	}
	w, err := q.word(q.availA, 0)
	if err != nil {
		return false, err
	}
	if uint16(atomic.LoadUint32(w))&virtio.AvailFNoInterrupt == 0 {
		q.signalled = q.usedIdx
		return true, nil
	}
	return false, nil
}

// PushRaw writes an arbitrary used element (tests of a hostile device).
func (q *Queue) PushRaw(id, n uint32, idx uint16) error {
	e, err := q.mem.Slice(q.usedA+4+8*uint64(q.usedIdx%q.size), 8)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(e[0:], id)
	binary.LittleEndian.PutUint32(e[4:], n)
	q.usedIdx = idx
	w, err := q.word(q.usedA, 0)
	if err != nil {
		return err
	}
	atomic.StoreUint32(w, uint32(idx)<<16)
	return nil
}
