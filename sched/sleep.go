package sched

import (
	"hash/maphash"
	"time"
)

// Sleep and wakeup on an ident (DragonFly's tsleep/wakeup). Each CPU keeps its sleepers in
// its own table; the system keeps, per hash slot of idents, a mask of CPUs that may have
// sleepers there, so Wakeup sends IPIs only to CPUs that may have one.
//
// Lost wakeups are avoided by an interlock: Sleep registers the thread (and sets its CPU's
// mask bit) before it evaluates the caller's condition, and Wakeup reads the mask after the
// waker changed the condition. The condition must therefore be state written atomically or
// under a token both sides hold.

const sleepSlots = 64

// sleepSeed hashes idents into slots. Set once at package initialisation, read-only after.
var sleepSeed = maphash.MakeSeed()

func sleepSlot(ident any) int {
	return int(maphash.Comparable(sleepSeed, ident) % sleepSlots)
}

type sleepList struct{ threads []*Thread }

// sleepState is a thread's registration in its CPU's sleep table.
type sleepState struct {
	ident  any
	queued bool
}

func (c *CPU) sleepAdd(td *Thread, ident any) {
	l := c.sleepq[ident]
	if l == nil {
		l = &sleepList{}
		c.sleepq[ident] = l
	}
	l.threads = append(l.threads, td)
	td.sleep = sleepState{ident: ident, queued: true}
	slot := sleepSlot(ident)
	c.slots[slot]++
	if c.slots[slot] == 1 {
		c.sys.sleepMasks[slot].Or(1 << c.id)
	}
}

// sleepCancel removes td from c's sleep table if it is there.
func (c *CPU) sleepCancel(td *Thread) {
	if !td.sleep.queued {
		return
	}
	ident := td.sleep.ident
	l := c.sleepq[ident]
	for i, t := range l.threads {
		if t == td {
			l.threads = append(l.threads[:i], l.threads[i+1:]...)
			break
		}
	}
	if len(l.threads) == 0 {
		delete(c.sleepq, ident)
	}
	td.sleep = sleepState{}
	c.slotRelease(sleepSlot(ident), 1)
}

func (c *CPU) slotRelease(slot int, n int32) {
	c.slots[slot] -= n
	if c.slots[slot] == 0 {
		c.sys.sleepMasks[slot].And(^uint64(1 << c.id))
	}
}

// Sleep blocks the running thread until Wakeup(ident), cond() is true when checked after
// registering (cond may be nil), or d passes (d < 0: no limit), which returns ErrTimeout.
// Like tsleep it may return nil spuriously: callers re-check their condition in a loop.
func (td *Thread) Sleep(ident any, d time.Duration, cond func() bool) error {
	c := td.assertRunning("Sleep")
	c.sleepAdd(td, ident)
	td.Deschedule()
	if cond != nil && cond() {
		c.sleepCancel(td)
		c.enqueue(td)
		return nil
	}
	if d < 0 {
		td.switchOut()
	} else if now := c.Now(); !td.sleepUntil(now+d, now) {
		c = td.cpu.Load()
		if td.sleep.queued {
			c.sleepCancel(td)
			return ErrTimeout
		}
		return nil
	}
	td.cpu.Load().sleepCancel(td)
	return nil
}

// Wakeup wakes every thread sleeping on ident, on any CPU. Called from CPU c's context.
func (c *CPU) Wakeup(ident any) {
	c.wakeupLocal(ident)
	mask := c.sys.sleepMasks[sleepSlot(ident)].Load() &^ (1 << c.id)
	for cpu := 0; mask != 0; cpu++ {
		if mask&(1<<cpu) != 0 {
			mask &^= 1 << cpu
			c.sys.ipi.Send(c.id, cpu, c.sys.wakeupFn, ident)
		}
	}
	c.checkPreempt()
}

// Wakeup is td.CPU().Wakeup for the running thread.
func (td *Thread) Wakeup(ident any) { td.assertRunning("Wakeup").Wakeup(ident) }

// WakeupExternal is Wakeup from outside the system.
func (s *System) WakeupExternal(ident any) {
	mask := s.sleepMasks[sleepSlot(ident)].Load()
	for cpu := 0; cpu < s.ncpu; cpu++ {
		if mask&(1<<cpu) != 0 {
			s.ipi.SendExternal(cpu, s.wakeupFn, ident)
		}
	}
}

func (c *CPU) wakeupLocal(ident any) {
	l := c.sleepq[ident]
	if l == nil {
		return
	}
	delete(c.sleepq, ident)
	for _, td := range l.threads {
		td.sleep = sleepState{}
		c.enqueue(td)
		if cur := c.cur; cur != nil && td.prio >= PriSoftInt && td.prio > cur.prio {
			c.resched = true
		}
	}
	c.slotRelease(sleepSlot(ident), int32(len(l.threads)))
}
