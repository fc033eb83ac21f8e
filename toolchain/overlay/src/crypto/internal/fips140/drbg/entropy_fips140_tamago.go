// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package drbg

import (
	"sync"

	entropy "crypto/internal/entropy/v1.0.0"
)

// On tamago there is no demand paging: a 32 MiB scratch buffer in the BSS
// (entropy_fips140.go) is 32 MiB of RAM taken from every kernel at boot,
// FIPS 140-3 mode or not. The buffer is allocated on first use instead;
// FIPS 140-3 mode is not offered on tamago, so it is normally never used.
var (
	memoryOnce sync.Once
	memory     *entropy.ScratchBuffer
)

func getEntropy() *[SeedSize]byte {
	memoryOnce.Do(func() { memory = new(entropy.ScratchBuffer) })
	var retries int
	seed, err := entropy.Seed(memory)
	for err != nil {
		// The CPU jitter entropy source can fail its start-up health
		// tests; it is restarted, as in entropy_fips140.go.
		if retries++; retries > 100 {
			panic("fips140/drbg: failed to obtain initial entropy")
		}
		seed, err = entropy.Seed(memory)
	}
	return &seed
}
