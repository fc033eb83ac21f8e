// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package goos

// Memory layout constants of the runtime (see runtime/malloc.go). They
// match the tamago module's goos package for 64-bit targets, so that the
// runtime behaves the same with either implementation.
const (
	// ArenaBaseOffset is the pointer value that corresponds to index 0 in
	// the heap arena map (see runtime.arenaBaseOffset).
	ArenaBaseOffset = 0

	// HeapAddrBits is the number of bits in a heap address: 1 TiB.
	HeapAddrBits = 40

	// LogHeapArenaBytes is log2 of a heap arena's size: 4 MiB, which
	// keeps the arena index small (a 40-bit address space needs 2 MiB of
	// index instead of 32 MiB with the 64 MiB arenas of linux/amd64).
	LogHeapArenaBytes = 2 + 20

	// LogPallocChunkPages is log2 of the pages in a page-allocator chunk.
	LogPallocChunkPages = 9

	// MinPhysPageSize is a lower bound on the physical page size.
	MinPhysPageSize = 4096

	// StackSystem is extra room below every goroutine stack guard: an
	// interrupt taken on bare metal pushes its frame on the current stack.
	StackSystem = 512
)
