package sched

// Critical sections (DragonFly's crit_enter/crit_exit): a per-thread counter. While it is
// non-zero the thread is not preempted by interrupt-level threads made runnable on its CPU;
// the preemption is recorded in CPU.resched and happens when the count returns to zero.
// IPI functions never run inside a thread's critical section except in a FIFO-full or
// completion wait of ipi.Send/WaitSeq, which must drain incoming FIFOs to avoid deadlock,
// exactly as DragonFly does; IPI functions are written to be safe there (they only queue
// work and never switch).
//
// The count is kept across switches: a thread that blocks inside a critical section is
// still inside it when it resumes.

// CritEnter enters a critical section. Sections nest.
func (td *Thread) CritEnter() {
	td.assertRunning("CritEnter")
	td.crit++
}

// CritExit leaves a critical section; leaving the outermost one runs a deferred preemption.
func (td *Thread) CritExit() {
	c := td.assertRunning("CritExit")
	if td.crit <= 0 {
		panic("sched: CritExit without CritEnter in thread " + td.String())
	}
	td.crit--
	if td.crit == 0 {
		if td.pollDeferred {
			td.pollDeferred = false
			td.Poll()
			return
		}
		if c.resched {
			c.checkPreempt()
		}
	}
}

// InCrit reports the running thread's critical section depth.
func (td *Thread) InCrit() int { return td.crit }

// Poll runs work that arrived for the thread's CPU (IPIs and due timers) without switching,
// then honours a pending preemption (DragonFly's splz). Inside a critical section it only
// records the request, and the outermost CritExit polls. Long-running threads call it at
// convenient points.
func (td *Thread) Poll() {
	c := td.assertRunning("Poll")
	if td.crit > 0 {
		td.pollDeferred = true // CritExit polls when the count returns to zero
		return
	}
	c.sys.ipi.Process(c.id)
	c.runTimers()
	c.checkPreempt()
}
