// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago && amd64

// Command boottest proves that Damselfly's GOOS=tamago toolchain boots on
// QEMU microvm: it prints over COM1, starts every CPU, runs goroutines until
// each CPU has run one, reports the LAPIC ids seen and exits QEMU through
// isa-debug-exit (status 33). toolchain/boottest/run.sh drives it.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/usbarmory/tamago/amd64"
)

func main() {
	fmt.Printf("boottest: hello from %s/%s %s, bootinfo %#x\n", runtime.GOOS, runtime.GOARCH, runtime.Version(), runtime.BootInfo())

	cpu.EnableExceptions()
	cpu.InitSMP(-1)
	n := runtime.GOMAXPROCS(-1)
	fmt.Printf("boottest: cpus %d (NumCPU %d), tsc %d Hz\n", n, amd64.NumCPU(), tscHz)

	var mu sync.Mutex
	seen := map[uint32]int{}
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 4*n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				id := cpu.LAPIC.ID()
				mu.Lock()
				seen[id]++
				done := len(seen) >= n
				mu.Unlock()
				if done {
					return
				}
				// Spin a little, then let others run.
				x := 0
				for i := 0; i < 20000; i++ {
					x += i
				}
				_ = x
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()

	var ids []int
	for id := range seen {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		fmt.Printf("boottest: cpu lapic %d ran goroutines\n", id)
	}
	if len(ids) != n {
		fmt.Printf("boottest: FAIL: %d of %d cpus ran goroutines\n", len(ids), n)
		os.Exit(1)
	}
	fmt.Printf("boottest: PASS %d cpus\n", n)
	os.Exit(0)
}
