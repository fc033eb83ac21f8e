package blk

import (
	"fmt"
	"sync"
)

// MemDevice is a RAM disk (for tests and as a scratch device). With Async
// set each request completes on its own goroutine, so several are really
// in flight, like a device with a queue.
type MemDevice struct {
	name  string
	ro    bool
	lim   Limits
	Async bool

	mu   sync.Mutex // guards data against concurrent requests
	data []byte

	// FailAt, if >= 0, makes any request touching that byte offset fail
	// with ErrIO (error injection for tests). Set before use.
	FailAt int64
}

// NewMemDevice returns a zeroed RAM disk of size bytes (a multiple of 512).
func NewMemDevice(name string, size int64, readOnly bool) (*MemDevice, error) {
	if size < 0 || size%512 != 0 {
		return nil, fmt.Errorf("blk: %s: size %d is not a multiple of 512", name, size)
	}
	return &MemDevice{
		name: name, ro: readOnly, data: make([]byte, size), FailAt: -1,
		lim: Limits{SectorSize: 512, MaxTransfer: 1 << 20, MaxSegments: 256, QueueDepth: 32, Flush: true, Discard: true},
	}, nil
}

func (m *MemDevice) Name() string   { return m.name }
func (m *MemDevice) Size() int64    { return int64(len(m.data)) }
func (m *MemDevice) ReadOnly() bool { return m.ro }
func (m *MemDevice) Limits() Limits { return m.lim }

// Bytes returns the device contents (not a copy; do not use while I/O runs).
func (m *MemDevice) Bytes() []byte { return m.data }

func (m *MemDevice) Submit(r *Request) {
	if m.Async {
		go m.do(r)
		return
	}
	m.do(r)
}

func (m *MemDevice) do(r *Request) {
	m.mu.Lock()
	if m.FailAt >= 0 && r.Op != OpFlush && m.FailAt >= r.Off && m.FailAt < r.Off+r.Len {
		m.mu.Unlock()
		r.Complete(ErrIO)
		return
	}
	off := r.Off
	switch r.Op {
	case OpRead:
		for _, s := range r.Segs {
			off += int64(copy(s, m.data[off:]))
		}
	case OpWrite:
		for _, s := range r.Segs {
			off += int64(copy(m.data[off:], s))
		}
	case OpDiscard:
		clear(m.data[r.Off : r.Off+r.Len])
	}
	m.mu.Unlock()
	r.Complete(nil)
}
