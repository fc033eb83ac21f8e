// Package virtiosim plays the device side of virtio for host tests: guest
// memory with bus addresses, device-side split virtqueues (descriptor
// chains, used ring, event index), the MMIO register block and a PCI
// function with virtio capabilities, and a virtio-blk device over a memory
// image. It is test equipment: it checks what a device checks and reports
// malformed driver input as errors.
package virtiosim

import (
	"fmt"
	"sort"
	"sync"
)

// Memory is simulated guest memory: every buffer the driver allocates or
// maps gets a fresh bus address range (never reused), and the device looks
// addresses up. It implements virtio.DMA.
type Memory struct {
	mu      sync.Mutex
	next    uint64
	regions []region // sorted by addr (addresses only grow)
}

type region struct {
	addr uint64
	b    []byte
}

// NewMemory returns an empty address space starting at 1 MiB.
func NewMemory() *Memory { return &Memory{next: 1 << 20} }

func (m *Memory) add(b []byte, align int) uint64 {
	if align < 16 {
		align = 16
	}
	a := (m.next + uint64(align) - 1) &^ (uint64(align) - 1)
	m.next = a + uint64(len(b)) + 4096 // a guard gap between regions
	m.regions = append(m.regions, region{a, b})
	return a
}

func (m *Memory) Alloc(size, align int) ([]byte, uint64) {
	// Over-allocate so the Go slice itself is 8-byte aligned for atomics.
	raw := make([]uint64, (size+7)/8)
	b := unsafeBytes(raw, size)
	m.mu.Lock()
	defer m.mu.Unlock()
	return b, m.add(b, align)
}

func (m *Memory) Map(b []byte) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.add(b, 16)
}

func (m *Memory) Unmap(addr uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.regions), func(i int) bool { return m.regions[i].addr >= addr })
	if i < len(m.regions) && m.regions[i].addr == addr {
		m.regions = append(m.regions[:i], m.regions[i+1:]...)
	}
}

// Slice returns the memory at [addr, addr+n) or an error if it is not
// inside one live region.
func (m *Memory) Slice(addr uint64, n uint32) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.regions), func(i int) bool { return m.regions[i].addr > addr }) - 1
	if i < 0 {
		return nil, fmt.Errorf("virtiosim: address %#x not mapped", addr)
	}
	r := m.regions[i]
	off := addr - r.addr
	if off > uint64(len(r.b)) || uint64(n) > uint64(len(r.b))-off {
		return nil, fmt.Errorf("virtiosim: %#x+%d outside mapped region %#x+%d", addr, n, r.addr, len(r.b))
	}
	return r.b[off : off+uint64(n) : off+uint64(n)], nil
}

// Regions returns the number of live regions (leak checks in tests).
func (m *Memory) Regions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.regions)
}
