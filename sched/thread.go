package sched

import (
	"fmt"
	"iter"
	"sync/atomic"
)

// Priority is a thread's fixed scheduling level. Higher runs first; round-robin within one.
type Priority uint8

// Priority levels, lowest first, as in DragonFly (TDPRI_*).
const (
	PriIdle    Priority = iota + 1 // runs only when nothing else can
	PriUser                        // user work
	PriKernel                      // kernel daemons: protocol, device and filesystem threads
	PriSoftInt                     // software interrupts; preempt lower levels
	PriInt                         // interrupt threads; preempt lower levels
	numPri
)

var priNames = [...]string{"?", "idle", "user", "kernel", "softint", "int"}

func (p Priority) String() string {
	if p < numPri {
		return priNames[p]
	}
	return fmt.Sprintf("pri%d", p)
}

// ThreadOpts describes a new thread. The zero value is a migratable PriKernel thread.
type ThreadOpts struct {
	Name   string
	Prio   Priority // 0 means PriKernel
	Pinned bool     // never migrates (DragonFly's TDF_FIXEDCPU)
}

// Thread is an LWKT thread. It belongs to one CPU at a time and runs only on it.
type Thread struct {
	sys    *System
	cpu    atomic.Pointer[CPU] // owning CPU, for routing requests from other CPUs
	home   *CPU                // the same, written by the CPU adopting the thread: read only by the thread and its CPU
	id     uint64
	name   string
	prio   Priority
	pinned bool
	fn     func(*Thread)

	// Fields below are owned by the thread's CPU.
	next, prev   *Thread // run queue links
	onrunq       bool    // on its CPU's run queue (the running thread stays on it unless it blocks)
	running      bool
	exited       bool
	preempted    bool   // switched out by a preemption: resume at the head of its level
	migrateTo    int    // target CPU of a pending migration, or -1
	crit         int    // critical section depth
	pollDeferred bool   // Poll was called inside a critical section: CritExit polls
	nswitch      uint64 // times switched to
	tokens       []tokenRef
	pendingTok   bool  // the newest token ref failed and is not held (see waitTokens)
	port         *Port // the thread's own port (reply port for DoMsg)
	sleep        sleepState
	sleepTimer   Timer // the timer of the thread's timed waits (sleepUntil); idx -1 when idle

	resume func() (struct{}, bool) // iter.Pull next: runs the thread until it switches out
	yield  func(struct{}) bool     // set inside the coroutine: switches out
	done   chan struct{}           // closed when the thread exits
}

// threadExit is the panic value Exit uses to unwind a thread.
type threadExit struct{}

func newThread(s *System, o ThreadOpts, fn func(*Thread)) *Thread {
	if fn == nil {
		panic("sched: new thread with nil function")
	}
	if o.Prio == 0 {
		o.Prio = PriKernel
	}
	if o.Prio >= numPri {
		panic(fmt.Sprintf("sched: thread %q: bad priority %d", o.Name, o.Prio))
	}
	td := &Thread{
		sys: s, id: s.nextID.Add(1), name: o.Name, prio: o.Prio, pinned: o.Pinned, fn: fn,
		migrateTo: -1, done: make(chan struct{}),
	}
	td.sleepTimer.idx = -1
	if td.name == "" {
		td.name = fmt.Sprintf("thread%d", td.id)
	}
	td.port = newThreadPort(td)
	td.resume, _ = iter.Pull(iter.Seq[struct{}](td.body))
	return td
}

// body is the coroutine: it runs fn and turns Exit's panic into a normal return.
func (td *Thread) body(yield func(struct{}) bool) {
	td.yield = yield
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(threadExit); !ok {
				panic(r)
			}
		}
	}()
	td.fn(td)
}

// ID returns the thread's system-wide identifier.
func (td *Thread) ID() uint64 { return td.id }

// Name returns the thread's name.
func (td *Thread) Name() string { return td.name }

// Prio returns the thread's priority.
func (td *Thread) Prio() Priority { return td.prio }

// Pinned reports whether the thread may never migrate.
func (td *Thread) Pinned() bool { return td.pinned }

// CPU returns the CPU the thread belongs to. For the running thread it is the CPU it runs on.
func (td *Thread) CPU() *CPU { return td.cpu.Load() }

// System returns the thread's system.
func (td *Thread) System() *System { return td.sys }

// Port returns the thread's own port (a thread port it owns).
func (td *Thread) Port() *Port { return td.port }

// Done returns a channel closed when the thread has exited. For code outside the system.
func (td *Thread) Done() <-chan struct{} { return td.done }

func (td *Thread) String() string { return fmt.Sprintf("%s#%d", td.name, td.id) }

// assertRunning panics unless td is the thread running on its CPU. Every operation that may
// block or switch calls it: only the thread itself may do those.
func (td *Thread) assertRunning(op string) *CPU {
	c := td.home
	if c == nil || c.cur != td {
		td.notRunning(op)
	}
	return c
}

// notRunning is assertRunning's failure, kept out of line so the check inlines.
//
//go:noinline
func (td *Thread) notRunning(op string) {
	panic(fmt.Sprintf("sched: %s: thread %v is not the running thread of its CPU "+
		"(blocking operations must be called by the thread itself)", op, td))
}

// Switch gives the CPU back to the scheduler. The thread runs again when it is on the run
// queue and chosen; if it descheduled itself it must be scheduled by someone first. Tokens
// are released while it is switched out and re-acquired before it resumes.
func (td *Thread) Switch() {
	td.assertRunning("Switch")
	td.switchOut()
}

func (td *Thread) switchOut() {
	if !td.yield(struct{}{}) {
		panic("sched: thread resumed after its system stopped")
	}
}

// Yield lets other runnable threads of the same or higher priority run (round-robin).
func (td *Thread) Yield() {
	td.assertRunning("Yield")
	td.switchOut()
}

// Deschedule takes the running thread off its run queue: its next Switch blocks until
// someone calls Schedule on it. Deschedule-then-check-then-Switch is race free, because a
// Schedule that arrives in between puts the thread back and the Switch returns at once.
func (td *Thread) Deschedule() {
	c := td.assertRunning("Deschedule")
	c.dequeue(td)
}

// Exit ends the running thread now (its deferred calls run). It must hold no tokens.
func (td *Thread) Exit() {
	td.assertRunning("Exit")
	panic(threadExit{})
}

// Join blocks the running thread until other has exited.
func (td *Thread) Join(other *Thread) {
	td.assertRunning("Join")
	exited := func() bool {
		select {
		case <-other.done:
			return true
		default:
			return false
		}
	}
	for !exited() {
		td.Sleep(other, -1, exited)
	}
}

// Migrate moves the running thread to CPU cpu and returns running there. Pinned threads
// panic. Tokens held are released while in transit and re-acquired on the new CPU.
func (td *Thread) Migrate(cpu int) {
	c := td.assertRunning("Migrate")
	if td.pinned {
		panic(fmt.Sprintf("sched: Migrate: thread %v is pinned", td))
	}
	if cpu < 0 || cpu >= td.sys.ncpu {
		panic(fmt.Sprintf("sched: Migrate: thread %v: no CPU %d", td, cpu))
	}
	if cpu == c.id {
		return
	}
	td.migrateTo = cpu
	c.dequeue(td)
	td.switchOut()
}

// Go starts a thread on CPU target. Called from CPU context (a thread's td.CPU(), or the cpu
// given to an IPI or timer function).
func (c *CPU) Go(target int, o ThreadOpts, fn func(*Thread)) *Thread {
	td := newThread(c.sys, o, fn)
	c.sys.countThread()
	if target == c.id {
		c.adopt(td)
		c.checkPreempt()
		return td
	}
	c.sys.ipi.Send(c.id, target, adoptIPI, td)
	return td
}

// Go starts a thread on CPU target from the running thread td (shorthand for td.CPU().Go).
func (td *Thread) Go(target int, o ThreadOpts, fn func(*Thread)) *Thread {
	return td.assertRunning("Go").Go(target, o, fn)
}
