//go:build tamago && amd64

package microvm

import (
	"fmt"
	"runtime"

	"damselfly/board"
)

// HeapSize is the memory the Go heap may use: its own block (Heap) and the
// RAM given to it beside that (HeapExtra).
func (m *Machine) HeapSize() uint64 { return m.Heap.Size() + board.TotalSize(m.HeapExtra) }

// addExtraRAM gives the heap the usable RAM above its own block and the DMA
// window (on QEMU: the RAM above the 4 GiB hole) up to the end of the boot
// map, through the runtime's AddRAM (which, on a warm boot, clears it as
// the heap takes it).
func (m *Machine) addExtraRAM() {
	if m.DMA.Size() == 0 {
		return // the memory map was refused (m.Errors)
	}
	extra, beyond := board.ExtraHeap(m.Usable, m.DMA.End, mappedLimit)
	for _, r := range beyond {
		m.Notes = append(m.Notes, fmt.Sprintf("memory: RAM %v is beyond the %d GiB boot map and not used", r, mappedLimit>>30))
	}
	for _, r := range extra {
		if n := runtime.AddRAM(uintptr(r.Start), uintptr(r.Size())); uint64(n) != r.Size() {
			m.Errors = append(m.Errors, fmt.Errorf("memory: the runtime took %d of the %d bytes of RAM %v", n, r.Size(), r))
			continue
		}
		m.HeapExtra = append(m.HeapExtra, r)
	}
}
