// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

// Memory outside the runtime's region (GOOS=tamago), and memory that is not
// zero. The region (goos.RamStart, goos.RamSize) is one contiguous block that
// holds the image, the heap's break and the boot stack. A machine's RAM is
// often split (on x86 the block below the 3-4 GiB device window and the block
// above 4 GiB): the board hands the other blocks to the runtime with AddRAM
// once it has read the memory map. They are kept aside and moved onto the
// free list of the sbrk allocator (mem_sbrk.go) a chunk at a time, when the
// break cannot grow: sbrk fails, its callers find the chunk there.
//
// The runtime takes memory it has not used as zero, as memory fresh from a
// VMM is. After a warm reset (a reboot that reloads the image but keeps RAM)
// it holds the last boot's data instead; the board's entry code then sets
// tamagoRAMDirty and memory is cleared as it is first handed out, so a
// reboot costs only what the runtime uses, not a clearing of all RAM.

package runtime

import (
	"runtime/goos"
	"unsafe"
)

// tamagoRAMDirty is set by the board's entry code, before the runtime
// starts, on a warm boot. Read-only afterwards.
//
//go:linkname tamagoRAMDirty
var tamagoRAMDirty bool

// tamagoRefillChunk is the granule in which RAM moves from AddRAM's blocks
// to the free list: large, so that refills are rare, and what a refill takes
// is cleared only after a warm reset.
const tamagoRefillChunk = 64 << 20

// tamagoExtra holds AddRAM's blocks; next is where the part not yet moved to
// the free list starts. memlock.
var tamagoExtra struct {
	blocks   [8]struct{ next, end uintptr }
	n        int
	refilled bool // a refill since the last tamagoRefilled
}

// AddRAM gives the runtime the physical memory [start, start+size), which
// must be identity-mapped and used by nothing else. It must read zero unless
// the boot is warm (tamagoRAMDirty). The range is rounded inwards to pages.
// It returns the bytes added: 0 when the range is empty, wraps, lies beyond
// the heap's address bits, overlaps the runtime's region or a block added
// before, or when 8 blocks were added already.
func AddRAM(start, size uintptr) uintptr {
	if start+size < start {
		return 0
	}
	s, e := alignUp(start, physPageSize), alignDown(start+size, physPageSize)
	if e <= s || e > 1<<heapAddrBits {
		return 0
	}
	if s < uintptr(goos.RamStart+goos.RamSize) && e > uintptr(goos.RamStart) {
		return 0
	}
	var added uintptr
	systemstack(func() {
		lock(&memlock)
		defer unlock(&memlock)
		x := &tamagoExtra
		if x.n == len(x.blocks) {
			return
		}
		for _, b := range x.blocks[:x.n] {
			if s < b.end && e > b.next {
				return
			}
		}
		x.blocks[x.n].next, x.blocks[x.n].end = s, e
		x.n++
		added = e - s
	})
	return added
}

// tamagoRefill moves a chunk of AddRAM's memory onto the free list, room
// for n bytes at heap-arena alignment, if a block has it. sbrk calls it,
// with memlock held, when the break cannot grow by n.
//
//go:systemstack
func tamagoRefill(n uintptr) {
	want := n + heapArenaBytes
	if want < n {
		return
	}
	x := &tamagoExtra
	for i := range x.blocks[:x.n] {
		b := &x.blocks[i]
		if b.end-b.next < want {
			continue
		}
		c := min(alignUp(want, tamagoRefillChunk), b.end-b.next)
		s := b.next
		b.next += c
		if tamagoRAMDirty {
			memFree(unsafe.Pointer(s), c) // clears it
		} else {
			tamagoFreeInsert(s, c)
		}
		memCheck()
		x.refilled = true
		return
	}
}

// tamagoRefilled reports whether a refill happened since it was last
// called: a caller whose sbrk failed then looks at the free list again.
// memlock must be held.
func tamagoRefilled() bool {
	r := tamagoExtra.refilled
	tamagoExtra.refilled = false
	return r
}

// tamagoFreeInsert puts the zeroed block [s, s+n) on the free list, kept in
// address order, writing only its header (memFree would clear it all). It
// does not merge the block with a free neighbour as memFree does: touching
// free blocks are valid, only less useful to a large request, and rare here
// (chunks are taken from the bottom of an AddRAM block, and the allocator
// cuts from the top of the chunk below, so what touches a new chunk is in
// use). memlock must be held.
//go:systemstack
func tamagoFreeInsert(s, n uintptr) {
	var prev *memHdr
	for p := memFreelist.ptr(); p != nil && uintptr(unsafe.Pointer(p)) < s; p = p.next.ptr() {
		prev = p
	}
	bp := (*memHdr)(unsafe.Pointer(s))
	bp.size = n
	if prev == nil {
		bp.next = memFreelist
		memFreelist.set(bp)
	} else {
		bp.next = prev.next
		prev.next.set(bp)
	}
}
