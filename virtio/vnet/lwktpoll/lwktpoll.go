// Package lwktpoll runs a virtio-net device's receive polls on LWKT
// threads (package sched). It is apart from the driver so that vnet does
// not depend on the scheduler.
//
// DragonFly runs a NIC's receive work in the netisr thread of the CPU that
// owns the queue, and so does this executor. Queue pair q is polled by a
// pinned thread on CPU q mod NCPU at soft-interrupt priority (above user
// threads, like the protocol threads of net/stack.SchedLoops). The
// interrupt handler only sets the queue's pending flag and wakes the
// thread (WakeupExternal: the interrupt comes from outside the system);
// the thread runs Poll rounds, yielding between them so other work of its
// CPU runs while the queue is busy.
package lwktpoll

import (
	"sync/atomic"

	"damselfly/sched"
	"damselfly/virtio/vnet"
)

// Poller provides vnet.Options.Schedule that runs polls on LWKT threads.
// Create it, pass its Schedule method in Options, call Start with the
// device New returned, and Stop before the system stops.
type Poller struct {
	sys     *sched.System
	dev     atomic.Pointer[vnet.Device]
	queues  []*lwktQueue
	stopped atomic.Bool
}

type lwktQueue struct {
	td      *sched.Thread
	pending atomic.Bool
	exited  chan struct{}
}

// New prepares pollers for up to queues queue pairs.
func New(sys *sched.System, queues int) *Poller {
	p := &Poller{sys: sys}
	for range queues {
		p.queues = append(p.queues, &lwktQueue{exited: make(chan struct{})})
	}
	return p
}

// Schedule is the vnet.Options.Schedule hook: safe from any goroutine (it is
// called from the interrupt handler). Calls that arrive before Start are
// remembered and served when the thread starts.
func (p *Poller) Schedule(q int) {
	if q >= len(p.queues) {
		return
	}
	lq := p.queues[q]
	lq.pending.Store(true)
	p.sys.WakeupExternal(lq)
}

// Start creates one pinned polling thread per queue pair of d.
func (p *Poller) Start(d *vnet.Device) {
	p.dev.Store(d)
	for q := 0; q < min(d.NumQueues(), len(p.queues)); q++ {
		lq := p.queues[q]
		lq.td = p.sys.GoExternal(q%p.sys.NCPU(), sched.ThreadOpts{Name: "vnet-rx", Prio: sched.PriSoftInt, Pinned: true},
			func(td *sched.Thread) { p.run(td, q, lq) })
	}
}

func (p *Poller) run(td *sched.Thread, q int, lq *lwktQueue) {
	defer close(lq.exited)
	d := p.dev.Load()
	ready := func() bool { return lq.pending.Load() || p.stopped.Load() }
	for {
		for !ready() {
			td.Sleep(lq, -1, ready)
		}
		if p.stopped.Load() {
			return
		}
		lq.pending.Store(false)
		for d.Poll(q) {
			td.Yield()
			if p.stopped.Load() {
				return
			}
		}
	}
}

// Stop ends the polling threads and waits for them.
func (p *Poller) Stop() {
	p.stopped.Store(true)
	for _, lq := range p.queues {
		if lq.td != nil {
			p.sys.WakeupExternal(lq)
			<-lq.exited
		}
	}
}
