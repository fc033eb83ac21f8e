// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Pinned goroutines (GOOS=tamago). On tamago each M is one CPU and Ms are
// never created later, so LockOSThread cannot give a goroutine a CPU of its
// own without taking the whole CPU away from other goroutines. A pinned
// goroutine instead runs on one M only, while that M keeps running other
// goroutines too: when it becomes runnable it goes on its M's own queue
// (m.tamagoPinq), never on a P's run queue where other Ms could steal it,
// and its M takes it first whenever it looks for work. Damselfly uses it to
// run one LWKT scheduler on each CPU.
//
// Waking: if the M is idle in stopm it is handed an idle P and woken; if it
// is the one blocked in the poller, the poll is broken; if it is running
// another goroutine it takes the pinned one at its next scheduling point
// (tamago has no preemption, so that is when the running goroutine blocks
// or yields). stopm rechecks the queue under sched.lock before it sleeps,
// so no wakeup is lost; execute throws if a pinned goroutine ever reaches
// another M.

package runtime

import (
	"internal/runtime/atomic"
	"unsafe"
)

// tamagoPinAny is set once any goroutine was pinned: injectglist only
// sorts lists when it is.
var tamagoPinAny atomic.Bool

// tamagoPinPut queues the runnable gp on the M it is pinned to and gets
// that M to run it.
func tamagoPinPut(gp *g) {
	mp := gp.tamagoPin
	lock(&sched.lock)
	mp.tamagoPinq.pushBack(gp)
	mp.tamagoPinN.Add(1)
	woken := tamagoPinTakeIdle(mp)
	unlock(&sched.lock)
	if woken {
		notewakeup(&mp.park)
		return
	}
	tamagoPinBreakPoll(mp)
}

// tamagoPinTakeIdle takes mp off the idle M list, if it is there, and
// hands it an idle P; it reports whether mp must then be woken
// (notewakeup, once sched.lock is released). With no P free (the world is
// stopped) mp stays idle, and startTheWorld's tamagoPinKick retries.
// sched.lock must be held.
func tamagoPinTakeIdle(mp *m) bool {
	if !tamagoMidleTake(mp) {
		return false
	}
	if pp, _ := pidleget(0); pp != nil {
		mp.nextp.set(pp)
		return true
	}
	mput(mp)
	return false
}

// tamagoPinGet takes the next goroutine pinned to mp, or nil.
func tamagoPinGet(mp *m) *g {
	lock(&sched.lock)
	gp := mp.tamagoPinq.pop()
	if gp != nil {
		mp.tamagoPinN.Add(-1)
	}
	unlock(&sched.lock)
	return gp
}

// tamagoPinKick wakes every idle M that has pinned goroutines queued, for
// those queued while no P was free.
func tamagoPinKick() {
	if !tamagoPinAny.Load() {
		return
	}
	for mp := allm; mp != nil; mp = mp.alllink {
		if mp.tamagoPinN.Load() == 0 {
			continue
		}
		lock(&sched.lock)
		woken := tamagoPinTakeIdle(mp)
		unlock(&sched.lock)
		if woken {
			notewakeup(&mp.park)
		}
	}
}

// PinToProc pins the calling goroutine to the M whose procid is procid (on
// tamago, the CPU whose goos.ProcID is procid: the LAPIC id on amd64) and
// moves it there before returning. It reports false, pinning nothing, when
// no M has that procid. A pinned goroutine stays pinned until Unpin.
func PinToProc(procid uint64) bool {
	target := tamagoFindM(procid)
	// Ms start when the runtime first needs them: the CPU may have none
	// yet. Start Ms (each on the next free CPU) until one runs there.
	for tries := 0; target == nil && tries < 64 && tamagoCanStartM(); tries++ {
		mp := acquirem()
		lock(&sched.lock)
		pp, _ := pidleget(0)
		unlock(&sched.lock)
		if pp != nil {
			newm(nil, pp, -1)
		}
		releasem(mp)
		for i := 0; i < 100 && tamagoFindM(procid) == nil; i++ {
			Gosched()
		}
		target = tamagoFindM(procid)
	}
	if target == nil {
		return false
	}
	tamagoPinAny.Store(true)
	gp := getg()
	gp.tamagoPin, gp.tamagoPinOwn = target, true
	for getg().m != target {
		Gosched()
	}
	return true
}

// Unpin undoes PinToProc for the calling goroutine.
func Unpin() {
	gp := getg()
	gp.tamagoPin, gp.tamagoPinOwn = nil, false
}

// tamagoMidleTake takes mp off the idle M list if it is on it (sched.lock
// held). mgetSpecific cannot tell a lone list entry (no prev, no next)
// from an M that is not on the list; the head check can.
func tamagoMidleTake(mp *m) bool {
	if sched.midle.head() != unsafe.Pointer(mp) && mp.idleNode.prev == 0 && mp.idleNode.next == 0 {
		return false
	}
	sched.midle.remove(unsafe.Pointer(mp))
	sched.nmidle--
	return true
}

// PinProcIDs lists the procid of every M, newest first (debugging aid).
func PinProcIDs() []uint64 {
	var ids []uint64
	for mp := (*m)(atomic.Loadp(unsafe.Pointer(&allm))); mp != nil; mp = mp.alllink {
		ids = append(ids, mp.procid)
	}
	return ids
}

// PinCurrent reports the calling goroutine's M procid and its pin's procid
// (^0 when unpinned) (debugging aid).
func PinCurrent() (m, pin uint64) {
	gp := getg()
	pin = ^uint64(0)
	if gp.tamagoPin != nil {
		pin = gp.tamagoPin.procid
	}
	return gp.m.procid, pin
}

// tamagoFindM returns the M whose procid is procid, or nil. An M sets its
// procid in minit, on its own CPU, before it runs any goroutine.
func tamagoFindM(procid uint64) *m {
	for mp := (*m)(atomic.Loadp(unsafe.Pointer(&allm))); mp != nil; mp = mp.alllink {
		if mp.procid == procid {
			return mp
		}
	}
	return nil
}
