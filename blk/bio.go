// Package blk is the block layer: bios addressed by 64-bit byte offsets
// (DragonFly's bio_offset; never block numbers), a per-disk device thread
// fed through a message port, request merging and many requests in flight,
// and a VM object (package vm) that caches the whole disk.
//
// Data flow (seed 000, "New I/O Device Model"): a filesystem reads and
// writes ranges of the disk's vm.Object; the object's pager turns misses and
// write-backs into bios whose data are the object's own pages; the disk's
// port either completes a bio synchronously (a read whose range is already
// valid in the object) or queues it for the device thread, which sorts and
// merges adjacent bios into driver requests and keeps up to the driver's
// queue depth in flight.
package blk

import (
	"errors"
	"fmt"
	"sync/atomic"

	"damselfly/vm"
)

// Op is a bio operation.
type Op uint8

const (
	OpRead Op = iota
	OpWrite
	OpFlush   // make completed writes durable; a barrier in the queue
	OpDiscard // the range's contents are no longer needed
)

func (op Op) String() string {
	switch op {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpFlush:
		return "flush"
	case OpDiscard:
		return "discard"
	}
	return fmt.Sprintf("op%d", uint8(op))
}

// Errors a bio can end with, wrapped in *Error.
var (
	ErrBeyondEnd   = vm.ErrBeyondEnd // one sentinel for the object and the device
	ErrIO          = errors.New("I/O error")
	ErrReadOnly    = vm.ErrReadOnly // one sentinel for the object and the device
	ErrUnsupported = errors.New("operation not supported by device")
	ErrMisaligned  = errors.New("offset or length not a multiple of the sector size")
	ErrClosed      = errors.New("device closed")
	// ErrAsync is Put's EASYNC: the bio was queued and completes later.
	ErrAsync = errors.New("queued (EASYNC)")
)

// Error is a failed bio: the device, the operation and its byte offset.
type Error struct {
	Dev string
	Op  Op
	Off int64
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("blk: %s: %v at offset %d: %v", e.Dev, e.Op, e.Off, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Bio is one block I/O: Len bytes at byte offset Off of the device. The
// data is either Buf or Pages, a page list used in order (a VM object's own
// pages: the disk's object reads and writes its pages in place). Done, if
// set, is called exactly once with Err set; it may run in the caller's
// context (synchronous completion) or in the driver's completion context,
// and must not block.
type Bio struct {
	Op    Op
	Off   int64
	Buf   []byte   // read/write data
	Pages [][]byte // read/write data as a page list (instead of Buf)
	Len   int64    // length of a discard (reads and writes use their data's length)
	CPU   int      // submitting CPU + 1, 0 if unknown: a multiqueue driver uses queue CPU-1
	Done  func(*Bio)
	Err   error

	fromObject bool          // issued by the disk's own pager: skip the cache hooks
	wait       chan struct{} // DoBio's waiter
	unlock     func()        // releases the object range held around a raw write
	parts      atomic.Int32  // requests still carrying a bio split by the device thread
	partErr    atomic.Pointer[error]
}

// segs returns the bio's data as a segment list.
func (b *Bio) segs() [][]byte {
	if b.Pages != nil {
		return b.Pages
	}
	return [][]byte{b.Buf}
}

func (b *Bio) length() int64 {
	if b.Op != OpRead && b.Op != OpWrite {
		return b.Len
	}
	if b.Pages == nil {
		return int64(len(b.Buf))
	}
	var n int64
	for _, p := range b.Pages {
		n += int64(len(p))
	}
	return n
}
