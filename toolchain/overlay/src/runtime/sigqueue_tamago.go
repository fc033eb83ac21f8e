// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

// Signals on tamago are interrupts relayed by board code: an interrupt
// handler calls os/signal.Relay, which marks the signal pending here. The
// os/signal receiver goroutine parks in signal_recv and is made runnable by
// netpoll (netpoll_tamago.go), from ordinary scheduler context: an interrupt
// handler can interrupt anything, so it must only set a bit.
//
// There is no note or extra M involved (Go's sigqueue.go blocks an M in
// notetsleepg, which would need a second M on a single CPU).

package runtime

import (
	"internal/runtime/atomic"
	"unsafe"
)

var tamagoSig struct {
	pending atomic.Uint32  // bit s: signal s relayed, not yet received
	wanted  atomic.Uint32  // bit s: signal s enabled by os/signal
	ignored atomic.Uint32  // bit s: signal s ignored
	waiter  atomic.Uintptr // *g parked in signal_recv, or 0
}

// signal_relay marks s pending. Called from interrupt context through
// os/signal.Relay: no allocation, no locks, no stack growth.
//
//go:nosplit
//go:linkname signal_relay os/signal.signal_relay
func signal_relay(s uint32) {
	if s >= 32 || tamagoSig.wanted.Load()&(1<<s) == 0 {
		return
	}
	tamagoSig.pending.Or(1 << s)
}

// signal_waiting reports whether the signal receiver is parked waiting.
//
//go:linkname signal_waiting os/signal.signal_waiting
func signal_waiting() bool {
	return tamagoSig.waiter.Load() != 0
}

// tamagoSigReady returns the parked receiver if a signal is pending and
// takes it off the waiter slot.
func tamagoSigReady() *g {
	if tamagoSig.pending.Load() == 0 {
		return nil
	}
	w := tamagoSig.waiter.Load()
	if w == 0 || !tamagoSig.waiter.CompareAndSwap(w, 0) {
		return nil
	}
	return (*g)(unsafe.Pointer(w))
}

func tamagoSigParkCommit(gp *g, _ unsafe.Pointer) bool {
	tamagoSig.waiter.Store(uintptr(unsafe.Pointer(gp)))
	netpollAdjustWaiters(1)
	return true
}

//go:linkname signal_recv os/signal.signal_recv
func signal_recv() uint32 {
	for {
		p := tamagoSig.pending.Load()
		if p != 0 {
			for s := uint32(0); s < 32; s++ {
				if p&(1<<s) != 0 && tamagoSig.pending.CompareAndSwap(p, p&^(1<<s)) {
					return s
				}
			}
			continue
		}
		if netpollInited.Load() == 0 {
			netpollGenericInit()
		}
		gopark(tamagoSigParkCommit, nil, waitReasonSelectNoCases, traceBlockForever, 1)
	}
}

//go:linkname signalWaitUntilIdle os/signal.signalWaitUntilIdle
func signalWaitUntilIdle() {
	for tamagoSig.pending.Load() != 0 {
		Gosched()
	}
}

//go:linkname signal_enable os/signal.signal_enable
func signal_enable(s uint32) {
	if s < 32 {
		tamagoSig.wanted.Or(1 << s)
		tamagoSig.ignored.And(^uint32(1 << s))
	}
}

//go:linkname signal_disable os/signal.signal_disable
func signal_disable(s uint32) {
	if s < 32 {
		tamagoSig.wanted.And(^uint32(1 << s))
	}
}

//go:linkname signal_ignore os/signal.signal_ignore
func signal_ignore(s uint32) {
	if s < 32 {
		tamagoSig.wanted.And(^uint32(1 << s))
		tamagoSig.ignored.Or(1 << s)
	}
}

//go:linkname signal_ignored os/signal.signal_ignored
func signal_ignored(s uint32) bool {
	return s < 32 && tamagoSig.ignored.Load()&(1<<s) != 0
}
