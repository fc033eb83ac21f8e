// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

// The tamago "poller" has no file descriptors to watch. It is the scheduler's
// idle hook: when findRunnable has nothing to run, one M blocks in
// netpoll(delay) until the next timer, and that wait is spent in goos.Idle so
// the CPU can halt. It also delivers interrupts relayed as signals
// (sigqueue_tamago.go), which is why it counts the signal receiver as a
// waiter. Other idle Ms sleep in semasleep (os_tamago.go).

package runtime

import (
	"internal/runtime/atomic"
	"runtime/goos"
)

var (
	// tamagoPollWake is set by netpollBreak to cut a blocking netpoll
	// short; consumed by netpoll.
	tamagoPollWake atomic.Uint32

	// tamagoPollProc is the procid (goos.ProcID) of the CPU blocked in
	// netpoll, for netpollBreak's goos.Wake; valid while tamagoPolling.
	tamagoPollProc atomic.Uint64
	tamagoPolling  atomic.Bool
)

func netpollinit() {}

func netpollIsPollDescriptor(fd uintptr) bool { return false }

func netpollopen(fd uintptr, pd *pollDesc) int32 { return 0 }

func netpollclose(fd uintptr) int32 { return 0 }

func netpollarm(pd *pollDesc, mode int) {}

func netpollBreak() {
	if tamagoPollWake.Swap(1) != 0 {
		return
	}
	if goos.Wake != nil && tamagoPolling.Load() {
		goos.Wake(tamagoPollProc.Load())
	}
}

// netpoll waits up to delay ns (forever if negative, not at all if zero) for
// a wakeup or a relayed interrupt, and returns the signal receiver if a
// signal is pending.
func netpoll(delay int64) (gList, int32) {
	var toRun gList
	if gp := tamagoSigReady(); gp != nil {
		toRun.push(gp)
		return toRun, -1
	}
	if delay == 0 {
		return toRun, 0
	}
	mp := getg().m
	if goos.ProcID != nil {
		mp.procid = goos.ProcID()
	}
	tamagoPollProc.Store(mp.procid)
	tamagoPolling.Store(true)
	now := nanotime()
	deadline := now + delay
	if delay < 0 || deadline < now {
		deadline = 1<<63 - 1
	}
	for tamagoPollWake.Swap(0) == 0 {
		// A goroutine pinned to this M became runnable: stop polling
		// (tamagoPinBreakPoll woke us, or is about to: polling was set
		// before this load and the pin counter raised before its load).
		if mp.tamagoPinN.Load() != 0 {
			break
		}
		if gp := tamagoSigReady(); gp != nil {
			toRun.push(gp)
			tamagoPolling.Store(false)
			return toRun, -1
		}
		now = nanotime()
		if now >= deadline {
			break
		}
		until := now + tamagoIdleSlice
		if deadline < until {
			until = deadline
		}
		tamagoIdle(until)
	}
	tamagoPolling.Store(false)
	if gp := tamagoSigReady(); gp != nil {
		toRun.push(gp)
		return toRun, -1
	}
	return toRun, 0
}

// tamagoPinBreakPoll ends the poller's wait if mp is the M blocked in it,
// so that mp looks at the goroutines pinned to it (tamagopin.go).
func tamagoPinBreakPoll(mp *m) {
	if goos.Wake != nil && tamagoPolling.Load() && tamagoPollProc.Load() == mp.procid {
		goos.Wake(mp.procid)
	}
}
