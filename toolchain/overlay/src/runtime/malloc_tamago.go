// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package runtime

import "runtime/goos"

// Memory layout of GOOS=tamago, owned by the runtime/goos implementation
// (malloc.go and stack.go select these when goos.IsTamago).
const (
	tamagoHeapAddrBits      = goos.HeapAddrBits
	tamagoLogHeapArenaBytes = goos.LogHeapArenaBytes
	tamagoArenaBaseOffset   = goos.ArenaBaseOffset
	tamagoStackSystem       = goos.StackSystem
)
