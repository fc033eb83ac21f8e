// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package signal

import "syscall"

// On tamago signals are interrupts relayed by board code. Relay and Waiting
// are the two calls the tamago module's interrupt code makes (amd64/irq.s,
// amd64/irq.go): Relay from the interrupt handler itself, Waiting from the
// goroutine that re-enables interrupts.

// Relay marks sig as delivered. It is safe to call from an interrupt
// handler: it only sets a bit; the scheduler wakes the receiving goroutine
// (runtime/sigqueue_tamago.go). Signals not enabled by Notify are dropped.
//
//go:nosplit
func Relay(sig syscall.Signal) {
	signal_relay(uint32(sig))
}

// Waiting reports whether the signal receiver is parked waiting for a signal,
// so an interrupt relayed now will wake it.
func Waiting() bool {
	return signal_waiting()
}

// Implemented in the runtime (sigqueue_tamago.go).
func signal_relay(uint32)
func signal_waiting() bool
