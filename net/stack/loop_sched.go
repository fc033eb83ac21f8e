package stack

import (
	"sync"
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
		l := &schedLoop{sys: sys, poll: poll, stop: make(chan struct{}), exited: make(chan struct{})}
		l.td = sys.GoExternal(cpu%sys.NCPU(), sched.ThreadOpts{Name: "netisr", Prio: sched.PriSoftInt, Pinned: true}, l.run)
		return l
	}
}

type schedLoop struct {
	sys  *sched.System
	td   *sched.Thread
	poll Poll

	mu      sync.Mutex // guards inbox, stopped; held only for slice swaps
	inbox   []func()
	stopped bool
	stop    chan struct{}
	exited  chan struct{} // closed when run returns (see goLoop.exited)
}

func (l *schedLoop) Post(fn func()) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.inbox = append(l.inbox, fn)
	first := len(l.inbox) == 1
	l.mu.Unlock()
	if first {
		l.sys.WakeupExternal(l)
	}
}

func (l *schedLoop) Do(fn func()) bool {
	done := make(chan struct{})
	l.Post(func() { fn(); close(done) })
	select {
	case <-done:
		return true
	case <-l.exited:
		return false
	}
}

func (l *schedLoop) Stop() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.stop)
	}
	l.mu.Unlock()
	l.sys.WakeupExternal(l)
}

func (l *schedLoop) pending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.inbox) > 0 || l.stopped
}

func (l *schedLoop) run(td *sched.Thread) {
	defer close(l.exited)
	for {
		l.mu.Lock()
		batch, stopped := l.inbox, l.stopped
		l.inbox = nil
		l.mu.Unlock()
		if stopped {
			return
		}
		for _, fn := range batch {
			fn()
		}
		next, ok := l.poll()
		d := time.Duration(-1)
		if ok {
			d = max(time.Until(next), 0)
		}
		td.Sleep(l, d, l.pending)
	}
}
