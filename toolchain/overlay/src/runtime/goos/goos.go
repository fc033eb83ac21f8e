// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package goos

import "unsafe"

// The memory region: a private anonymous mapping made by cpuinit at a fixed
// address. The image itself stays where Linux loaded it; Bloc points the
// heap at the region.
var (
	// RamStart is the start of the memory available to the runtime.
	RamStart uint = 0x200000000 // 8 GiB, clear of the image at 4 MiB

	// RamSize is the size of that memory.
	RamSize uint = 0x80000000 // 2 GiB, reserved lazily by Linux

	// RamStackOffset is the distance of the boot stack from the end.
	RamStackOffset uint = 0x100
)

// Optional hooks of the contract; see the tamago module's goos package.
var (
	// Bloc is the start of the heap (here: RamStart).
	Bloc uintptr

	// Exit ends the program.
	Exit func(code int32)

	// Idle waits for at most until (nanotime) or an interrupt.
	Idle func(until int64)

	// ProcID identifies the current CPU.
	ProcID func() uint64

	// Task starts a CPU running fn (nil here: one CPU).
	Task func(sp, mp, gp, fn unsafe.Pointer)

	// Wake interrupts the idle CPU procid.
	Wake func(procid uint64)
)

// CPUinit is the image's machine entry, reached from the runtime's ELF entry
// point: it maps the memory region, moves the stack there and jumps to
// _rt0_tamago_start (assembly, see cpuinit).
func CPUinit()

// Hwinit0 is the early init hook, called by runtime.osinit before the heap
// exists.
func Hwinit0() {
	Bloc = uintptr(RamStart)
	Exit = sysExit
	Idle = idle
}

// Hwinit1 is the late init hook, called by the runtime before package
// initialization.
func Hwinit1() {}

// InitRNG prepares GetRandomData.
func InitRNG() {}

// GetRandomData fills b with random bytes from getrandom(2).
func GetRandomData(b []byte) {
	for len(b) > 0 {
		n := sysGetrandom(unsafe.Pointer(unsafe.SliceData(b)), len(b))
		if n <= 0 {
			continue
		}
		b = b[n:]
	}
}

// Nanotime returns CLOCK_REALTIME in nanoseconds: tamago has one clock, used
// both as monotonic time and wall time.
//
//go:nosplit
func Nanotime() int64 {
	return sysClockGettime()
}

// Printk writes one byte of console output to standard output.
//
//go:nosplit
func Printk(c byte) {
	b := c
	sysWrite(1, unsafe.Pointer(&b), 1)
}

// idle sleeps until the deadline (nanosleep(2), capped at 10 ms so that an
// idle loop keeps checking its condition).
func idle(until int64) {
	d := until - Nanotime()
	if d <= 0 {
		return
	}
	if d > 10e6 {
		d = 10e6
	}
	sysNanosleep(d)
}

// Linux system calls (goos_amd64.s).

func sysExit(code int32)

//go:noescape
func sysWrite(fd uintptr, p unsafe.Pointer, n int) int

func sysClockGettime() int64

//go:noescape
func sysGetrandom(p unsafe.Pointer, n int) int

func sysNanosleep(ns int64)
