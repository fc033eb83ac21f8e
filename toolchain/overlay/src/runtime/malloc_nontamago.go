// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !tamago

package runtime

// Placeholders for the GOOS=tamago layout constants (malloc_tamago.go);
// malloc.go and stack.go multiply them by goos.IsTamago, which is 0 here.
const (
	tamagoHeapAddrBits      = 0
	tamagoLogHeapArenaBytes = 0
	tamagoArenaBaseOffset   = 0
	tamagoStackSystem       = 0
)

// tamagoRefilled reports whether a failed sbrk put memory on the free list
// (tamagoram.go); sbrk never does on other systems.
func tamagoRefilled() bool { return false }
