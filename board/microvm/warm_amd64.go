//go:build tamago && amd64

package microvm

import "unsafe"

// A reset that is not a power cycle (the shell's reboot, QMP system_reset, a
// triple fault under a VMM that reboots on it) reloads the image but leaves
// RAM as the last boot left it, while the runtime takes memory it has not
// used as zero. The entry (cpuinit_amd64.s) knows a warm boot by a mark it
// leaves in the board area, where no image loader writes and which fresh
// memory holds as zero, and then sets the runtime's tamagoRAMDirty: the
// runtime clears memory as it first hands it out (its sbrk and AddRAM), so
// a reboot costs what the heap uses, not a clearing of all RAM. What the
// board itself takes as zero outside the heap, the DMA window, it clears
// (clearWarm).

// defined in cpuinit_amd64.s
func warmCount() uint64

// clearWarm clears, on a warm boot, the memory outside the heap that the
// board hands out as zero: the DMA window.
func (m *Machine) clearWarm() {
	if m.WarmBoots == 0 || m.DMA.Size() == 0 {
		return
	}
	clear(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(m.DMA.Start))), m.DMA.Size()))
}
