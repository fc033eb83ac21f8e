//go:build tamago && amd64

package microvm

import _ "unsafe"

// RamStart is fixed (layout.h RAM_START) because the image is linked inside
// the region; RamSize is a fallback that cpuinit replaces with the size of
// the RAM block holding RamStart, from the PVH memory map.

//go:linkname ramStart runtime/goos.RamStart
var ramStart uint = 0x1000000

//go:linkname ramSize runtime/goos.RamSize
var ramSize uint = 0x2000000

// The size of the DMA window cpuinit leaves above RamSize (layout.h).
const dmaSize = 0x1000000
