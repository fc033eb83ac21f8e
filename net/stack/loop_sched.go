package stack

import (
	"time"

	"damselfly/sched"
)

// SchedLoops runs protocol thread i as a pinned LWKT thread on CPU
// i mod NCPU of sys, at PriSoftInt (DragonFly's netisr threads run at
// soft-interrupt priority). The inbox is a locked slice: producers are
// device goroutines, user goroutines and other CPUs' protocol threads, so
// they wake the thread with WakeupExternal on the inbox's identity; the
// thread sleeps on it with its next timer as the timeout.
//
// Do waits on a Go channel, which is right for goroutines outside the
// system (host tests, tapstack); an LWKT thread must not call it (it would
// stall its CPU) and should use a message port instead.
func SchedLoops(sys *sched.System) LoopFactory {
	return func(cpu int, poll Poll) Loop {
		l := &schedLoop{sys: sys, poll: poll}
		l.inbox = newInbox(func() { sys.WakeupExternal(l) })
		l.td = sys.GoExternal(cpu%sys.NCPU(), sched.ThreadOpts{Name: "netisr", Prio: sched.PriSoftInt, Pinned: true}, l.run)
		return l
	}
}

type schedLoop struct {
	inbox
	sys  *sched.System
	td   *sched.Thread
	poll Poll
}

// run sleeps on the loop's identity between batches, with the next timer
// as the timeout; producers wake it with WakeupExternal on that identity.
func (l *schedLoop) run(td *sched.Thread) {
	defer close(l.exited)
	for {
		if l.inbox.run() {
			return
		}
		next, ok := l.poll()
		d := time.Duration(-1)
		if ok {
			d = max(time.Until(next), 0)
		}
		td.Sleep(l, d, l.pending)
	}
}
