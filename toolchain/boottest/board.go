// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago && amd64

package main

// A deliberately small board for QEMU microvm under TCG, enough to prove
// that the GOOS=tamago toolchain boots: COM1 console, a TSC clock
// calibrated against the CMOS RTC, the tamago module's SMP bring-up, and
// isa-debug-exit to end QEMU. The real board lives in Damselfly's board/.

import (
	"runtime/goos"
	_ "unsafe"

	"github.com/usbarmory/tamago/amd64"
	"github.com/usbarmory/tamago/soc/intel/uart"
)

const (
	com1 = 0x3f8

	// isa-debug-exit (-device isa-debug-exit,iobase=0xf4,iosize=0x04):
	// writing v makes QEMU exit with status (v << 1) | 1.
	debugExitPort = 0xf4

	// CMOS RTC index/data ports and registers (MC146818).
	cmosIndex   = 0x70
	cmosData    = 0x71
	cmosSeconds = 0x00
	cmosStatusA = 0x0a
	cmosUIP     = 0x80 // update in progress
)

// ramSize: RAM is [0x10000000, 0x20000000) (the amd64 package sets
// RamStart), so QEMU must run with -m 512M.
//
//go:linkname ramSize runtime/goos.RamSize
var ramSize uint64 = 0x10000000

var (
	cpu   = &amd64.CPU{TimerMultiplier: 1}
	uart0 = &uart.UART{Index: 1, Base: com1}
)

// tscHz is the TSC frequency, 1 GHz until calibrate measures it. Written
// once by Hwinit1 on the boot CPU before other CPUs start.
var tscHz uint64 = 1e9

func inb(port uint16) uint8
func outb(port uint16, v uint8)
func rdtsc() uint64

//go:linkname printk runtime/goos.Printk
func printk(c byte) {
	uart0.Tx(c)
}

//go:linkname nanotime runtime/goos.Nanotime
func nanotime() int64 {
	t := rdtsc()
	return int64(t/tscHz*1e9 + t%tscHz*1e9/tscHz)
}

//go:linkname hwinit1 runtime/goos.Hwinit1
func hwinit1() {
	uart0.Init()
	print("boottest: console up\n")
	cpu.Init()
	calibrate()
	goos.Exit = func(code int32) {
		v := uint8(0x10)
		if code != 0 {
			v = 0x11
		}
		outb(debugExitPort, v)
		for {
		}
	}
}

func cmosRead(reg uint8) uint8 {
	outb(cmosIndex, reg)
	return inb(cmosData)
}

// rtcTick waits for the RTC seconds register to change.
func rtcTick() {
	for cmosRead(cmosStatusA)&cmosUIP != 0 {
	}
	s := cmosRead(cmosSeconds)
	for {
		for cmosRead(cmosStatusA)&cmosUIP != 0 {
		}
		if cmosRead(cmosSeconds) != s {
			return
		}
	}
}

// calibrate measures the TSC over one RTC second (crude but independent of
// TCG's CPUID frequency leaves, which are wrong).
func calibrate() {
	rtcTick()
	t0 := rdtsc()
	rtcTick()
	if d := rdtsc() - t0; d > 1e6 {
		tscHz = d
	}
}
