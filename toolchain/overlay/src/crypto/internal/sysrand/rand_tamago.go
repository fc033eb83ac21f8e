// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package sysrand

import _ "unsafe" // for go:linkname

// getRandomData is the board's entropy source (runtime/goos.GetRandomData),
// pushed by the runtime.
//
//go:linkname getRandomData
func getRandomData([]byte)

func read(b []byte) error {
	getRandomData(b)
	return nil
}
