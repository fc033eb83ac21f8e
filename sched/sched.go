package sched

import (
	"fmt"
	"math/bits"
	"sync/atomic"
)

// CPU is one logical CPU's scheduler: its run queue, timers and sleep queues. All of its
// fields are owned by the CPU (touched only by its scheduler loop, its threads and the IPI
// and timer functions it runs), except the counters, which are atomics so that Stats can
// read them from anywhere.
type CPU struct {
	sys *System
	id  int

	cur       *Thread              // the running thread, nil while the scheduler loop runs
	runq      [numPri]threadList   // runnable threads per priority, round-robin order
	runmask   uint32               // bit p set when runq[p] is not empty
	threads   int                  // threads belonging to this CPU
	all       map[*Thread]struct{} // the same threads, for Threads()
	resched   bool                 // a preemption was deferred (critical section, IPI context)
	softDepth int                  // running timer functions: no preemption from there
	timers    timerHeap
	sleepq    map[any]*sleepList // sleeping threads by ident
	slots     [sleepSlots]int32  // sleepers per ident hash slot (for the system's masks)

	// active counts threads running on this CPU: the per-CPU exclusivity check on every
	// switch. Only the CPU's loop touches it; were two goroutines ever to run one CPU's
	// loop, the check would fail or the race detector would report it.
	active int
	// nswitch counts switches; published to stats.switches every 64, when idle and when a
	// thread exits, so the switch path carries no locked instruction for it.
	nswitch uint64

	stats cpuCounters
}

type cpuCounters struct {
	switches, preempts, tokenMisses, idleWaits, timersRun atomic.Uint64
	runq, threads                                         atomic.Int64
}

// threadList is an intrusive doubly linked FIFO of threads.
type threadList struct {
	head, tail *Thread
	n          int
}

func (l *threadList) pushBack(td *Thread) {
	td.next, td.prev = nil, l.tail
	if l.tail != nil {
		l.tail.next = td
	} else {
		l.head = td
	}
	l.tail = td
	l.n++
}

func (l *threadList) pushFront(td *Thread) {
	td.prev, td.next = nil, l.head
	if l.head != nil {
		l.head.prev = td
	} else {
		l.tail = td
	}
	l.head = td
	l.n++
}

func (l *threadList) remove(td *Thread) {
	if td.prev != nil {
		td.prev.next = td.next
	} else {
		l.head = td.next
	}
	if td.next != nil {
		td.next.prev = td.prev
	} else {
		l.tail = td.prev
	}
	td.next, td.prev = nil, nil
	l.n--
}

// ID returns the CPU's index.
func (c *CPU) ID() int { return c.id }

// System returns the CPU's system.
func (c *CPU) System() *System { return c.sys }

// Current returns the thread running on the CPU, or nil in IPI or timer context. Call it
// only from this CPU's context.
func (c *CPU) Current() *Thread { return c.cur }

// enqueue puts td at the tail of its level. td belongs to c.
func (c *CPU) enqueue(td *Thread) {
	if td.onrunq {
		return
	}
	td.onrunq = true
	c.runq[td.prio].pushBack(td)
	c.runmask |= 1 << td.prio
	c.stats.runq.Add(1)
}

// dequeue takes td off the run queue.
func (c *CPU) dequeue(td *Thread) {
	if !td.onrunq {
		return
	}
	td.onrunq = false
	l := &c.runq[td.prio]
	l.remove(td)
	if l.n == 0 {
		c.runmask &^= 1 << td.prio
	}
	c.stats.runq.Add(-1)
}

// Schedule makes td runnable. Called from CPU c's context; if td belongs to another CPU the
// request travels as an IPI. Scheduling an interrupt-level thread above the running one
// preempts it at once unless it is in a critical section (then at CritExit).
func (c *CPU) Schedule(td *Thread) {
	tc := td.cpu.Load()
	if tc != c {
		c.sys.ipi.Send(c.id, tc.id, scheduleIPI, td)
		return
	}
	c.scheduleLocal(td)
	c.checkPreempt()
}

// scheduleLocal makes td runnable on c, forwarding the request if td has migrated away.
func (c *CPU) scheduleLocal(td *Thread) {
	if tc := td.cpu.Load(); tc != c {
		c.sys.ipi.Send(c.id, tc.id, scheduleIPI, td)
		return
	}
	if td.exited || td.migrateTo >= 0 {
		return
	}
	c.enqueue(td)
	if cur := c.cur; cur != nil && td != cur && td.prio >= PriSoftInt && td.prio > cur.prio {
		c.resched = true
	}
}

func scheduleIPI(cpu int, arg any) {
	td := arg.(*Thread)
	td.sys.cpus[cpu].scheduleLocal(td)
}

// checkPreempt switches the running thread out in favour of a higher interrupt-level thread
// if one became runnable and nothing forbids it: a critical section, or running inside IPI
// processing (a FIFO-full wait), defers it.
func (c *CPU) checkPreempt() {
	cur := c.cur
	if !c.resched || cur == nil || cur.crit > 0 || c.softDepth > 0 || c.sys.ipi.InProcess(c.id) {
		return
	}
	c.resched = false
	c.stats.preempts.Add(1)
	cur.preempted = true
	cur.switchOut()
}

// adopt makes td one of c's threads and runnable.
func (c *CPU) adopt(td *Thread) {
	td.cpu.Store(c)
	td.home = c
	c.all[td] = struct{}{}
	c.threads++
	c.stats.threads.Add(1)
	c.scheduleLocal(td)
}

func adoptIPI(cpu int, arg any) {
	td := arg.(*Thread)
	td.sys.cpus[cpu].adopt(td)
}

// pick returns the highest-priority runnable thread whose tokens can all be acquired (they
// are acquired on return). blocked reports that runnable threads exist but all of them
// wait for tokens held by threads running on other CPUs.
func (c *CPU) pick() (td *Thread, blocked bool) {
	for m := c.runmask; m != 0; {
		p := 31 - bits.LeadingZeros32(m)
		m &^= 1 << p
		for t := c.runq[p].head; t != nil; t = t.next {
			if len(t.tokens) == 0 || t.acquireTokens() {
				return t, false
			}
			c.stats.tokenMisses.Add(1)
			blocked = true
		}
	}
	return nil, blocked
}

// Run is the CPU's scheduler loop. It returns when the system stops. On the host
// System.Start runs it on a goroutine per CPU; in the guest each CPU calls it once booted.
func (c *CPU) Run() {
	q := c.sys.ipi
	for !c.sys.stopping.Load() {
		q.Process(c.id)
		now := c.runTimers()
		td, blocked := c.pick()
		if td == nil {
			if blocked {
				q.Doorbell().Relax() // token holders run elsewhere; retry soon
				continue
			}
			c.stats.idleWaits.Add(1)
			c.stats.switches.Store(c.nswitch)
			q.Idle(c.id, c.idleTimeout(now))
			continue
		}
		c.run(td)
	}
}

// run switches to td until it switches out, then files it according to why it stopped.
func (c *CPU) run(td *Thread) {
	c.active++
	if c.active != 1 || c.cur != nil {
		panic(fmt.Sprintf("sched: cpu %d: %d threads running at once", c.id, c.active))
	}
	if check := c.sys.opts.SwitchCheck; check != nil {
		check(c.id)
	}
	c.cur = td
	c.resched = false // td is the best choice now; a stale request would preempt it for nothing
	td.running = true
	c.nswitch++
	td.nswitch++
	if c.nswitch&63 == 0 {
		c.stats.switches.Store(c.nswitch)
	}
	_, alive := td.resume()
	td.running = false
	c.cur = nil
	c.active--
	td.releaseTokens()
	preempted := td.preempted
	td.preempted = false
	switch {
	case !alive:
		c.exit(td)
	case td.migrateTo >= 0:
		// Hand over ownership before the adoption IPI: from the store on, requests for td
		// go to the new CPU, and the store publishes td's fields to whoever loads it.
		to := td.migrateTo
		td.migrateTo = -1
		delete(c.all, td)
		c.threads--
		c.stats.threads.Add(-1)
		td.cpu.Store(c.sys.cpus[to])
		c.sys.ipi.Send(c.id, to, adoptIPI, td)
	case td.onrunq && !preempted:
		// Round-robin: a thread that yielded goes behind its peers.
		l := &c.runq[td.prio]
		if l.tail != td {
			l.remove(td)
			l.pushBack(td)
		}
	case td.onrunq:
		// A preempted thread resumes first among its peers once the preemptor is done.
		l := &c.runq[td.prio]
		if l.head != td {
			l.remove(td)
			l.pushFront(td)
		}
	}
}

// exit retires a thread whose function returned.
func (c *CPU) exit(td *Thread) {
	if len(td.tokens) != 0 {
		panic(fmt.Sprintf("sched: thread %v exited holding %d tokens", td, len(td.tokens)))
	}
	c.dequeue(td)
	td.exited = true
	c.sleepCancel(td)
	delete(c.all, td)
	c.threads--
	c.stats.threads.Add(-1)
	c.sys.live.Add(-1)
	c.stats.switches.Store(c.nswitch) // so that whoever waits for the exit sees current counts
	close(td.done)
	c.Wakeup(td) // threads in Join
}
