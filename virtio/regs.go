package virtio

import (
	"sync/atomic"
	"unsafe"
)

// Regs is a window of device registers (an MMIO region or a PCI BAR
// region), offsets relative to its start.
type Regs interface {
	Read8(off uint32) uint8
	Read16(off uint32) uint16
	Read32(off uint32) uint32
	Write8(off uint32, v uint8)
	Write16(off uint32, v uint16)
	Write32(off uint32, v uint32)
}

// PhysRegs accesses registers at a physical address in an identity-mapped
// guest. 32-bit accesses are atomic loads/stores (the compiler neither
// elides nor splits them); 8- and 16-bit accesses go through non-inlined
// functions so each is one load or store.
type PhysRegs struct{ base unsafe.Pointer }

// NewPhysRegs returns the register window at physical address addr. The
// address is device memory, never Go memory, so the garbage collector
// ignores it.
func NewPhysRegs(addr uintptr) PhysRegs {
	return PhysRegs{base: *(*unsafe.Pointer)(unsafe.Pointer(&addr))}
}

func (r PhysRegs) p(off uint32) unsafe.Pointer { return unsafe.Add(r.base, off) }

func (r PhysRegs) Read32(off uint32) uint32     { return atomic.LoadUint32((*uint32)(r.p(off))) }
func (r PhysRegs) Write32(off uint32, v uint32) { atomic.StoreUint32((*uint32)(r.p(off)), v) }

//go:noinline
func (r PhysRegs) Read8(off uint32) uint8 { return *(*uint8)(r.p(off)) }

//go:noinline
func (r PhysRegs) Read16(off uint32) uint16 { return *(*uint16)(r.p(off)) }

//go:noinline
func (r PhysRegs) Write8(off uint32, v uint8) { *(*uint8)(r.p(off)) = v }

//go:noinline
func (r PhysRegs) Write16(off uint32, v uint16) { *(*uint16)(r.p(off)) = v }
