// PCI configuration space access for package board/pci: ECAM when the
// ACPI MCFG describes it (q35, Cloud Hypervisor), else configuration
// mechanism #1 on machines known to have it (QEMU pc), else none (microvm
// and Firecracker have no PCI bus here).

//go:build tamago && amd64

package microvm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"damselfly/board"
	"damselfly/board/pci"
)

// pciConfig is chosen once, on first use, from M (read-only by then);
// pciOnce guards it and pciNote, which says why an ECAM window was passed
// over.
var (
	pciOnce   sync.Once
	pciConfig pci.ConfigSpace
	pciNote   string
)

// PCIConfig returns the machine's PCI configuration space access (nil when
// it has no PCI bus) and a note for the log when an ECAM window the MCFG
// lists could not be used.
func PCIConfig() (pci.ConfigSpace, string) {
	pciOnce.Do(func() {
		for _, e := range M.ACPI.ECAM {
			if e.Segment != 0 {
				pciNote = fmt.Sprintf("pci: ECAM at %#x: segment %d not used (only segment 0 is)", e.Base, e.Segment)
				continue
			}
			first := e.Base + uint64(e.StartBus)<<20
			if _, err := PhysWindow(first, (uint64(e.EndBus)-uint64(e.StartBus)+1)<<20); err != nil {
				pciNote = fmt.Sprintf("pci: ECAM at %#x not used: %v", e.Base, err)
				continue
			}
			pciConfig = &pci.ECAM{Base: e.Base, First: e.StartBus, Last: e.EndBus, Mem: ecamMem{}}
			return
		}
		if M.Platform.Name == board.QEMUPC.Name {
			pciConfig = &pci.Ports{IO: pciPorts{}}
		}
	})
	return pciConfig, pciNote
}

// ecamMem accesses the ECAM window, one load or store per access.
type ecamMem struct{}

func (ecamMem) Read32(a uint64) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(uintptr(a))))
}

func (ecamMem) Write32(a uint64, v uint32) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(uintptr(a))), v)
}

func (ecamMem) Write16(a uint64, v uint16) { mmioWrite16(a, v) }

// pciPorts is port I/O for configuration mechanism #1.
type pciPorts struct{}

func (pciPorts) In32(p uint16) uint32     { return inl(p) }
func (pciPorts) Out32(p uint16, v uint32) { outl(p, v) }
func (pciPorts) Out16(p uint16, v uint16) { outw(p, v) }
