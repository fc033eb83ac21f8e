// Narrow hardware access: everything that touches a port, an MSR or raw
// memory goes through these functions, so the logic in package board stays
// testable on the host.

//go:build tamago && amd64

package microvm

import (
	"errors"
	"unsafe"
)

// defined in io_amd64.s
func inb(port uint16) uint8
func outb(port uint16, v uint8)
func inl(port uint16) uint32
func rdtsc() uint64
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
func rdmsr(msr uint32) uint64
func wrmsr(msr uint32, v uint64)
func haltForever()
func tripleFault()

// defined in pio_amd64.s
func inw(port uint16) uint16
func outw(port uint16, v uint16)
func outl(port uint16, v uint32)

// defined in cpuinit_amd64.s
func entryTSC() uint64

// ports is x86 port I/O for package board's drivers.
type ports struct{}

func (ports) In8(p uint16) uint8     { return inb(p) }
func (ports) Out8(p uint16, v uint8) { outb(p, v) }

// physMem reads identity-mapped physical memory within the mapped range.
type physMem struct{}

// mappedLimit is the end of the identity map cpuinit builds (MAPPED_GIB).
const mappedLimit = 64 << 30

func (physMem) ReadPhys(addr uint64, b []byte) error {
	if addr < 0x1000 || addr >= mappedLimit || uint64(len(b)) > mappedLimit-addr {
		return errors.New("address not mapped")
	}
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(uintptr(addr))), len(b)))
	return nil
}

func mmioRead32(addr uint64) uint32 {
	return *(*uint32)(unsafe.Pointer(uintptr(addr)))
}

func mmioWrite8(addr uint64, v uint8) {
	*(*uint8)(unsafe.Pointer(uintptr(addr))) = v
}

//go:noinline
func mmioWrite16(addr uint64, v uint16) {
	*(*uint16)(unsafe.Pointer(uintptr(addr))) = v
}
