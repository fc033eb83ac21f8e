package stack

import (
	"runtime"
	"sync/atomic"
	"time"

	"damselfly/sched"
)

// A protocol thread is an LWKT thread (damselfly/sched) pinned to its CPU,
// at PriSoftInt as DragonFly's netisr threads. It has one message port,
// and everything it owns (its tcp.Stack, ARP cache, reassembler, counters)
// is touched only while it serves that port, so none of it is locked.
//
// Two things reach the thread:
//   - Socket calls, as typed messages (sockmsg.go) sent to Loop.Port:
//     control calls and reads with DoMsg semantics, data writes with
//     SendMsg and a reply port. The port's put function serves a DoMsg in
//     the caller's own context when that is safe (fast path, see put).
//   - Received frames and hand-offs between threads, on the packet path:
//     functions appended to an inbox (Post), which the thread runs in
//     batches. A Post that finds the inbox empty sends the thread's kick
//     message to the port, so the thread only ever waits on its port.
//
// On the host and in the guest it is the same code: SchedLoops(sys) puts
// the threads on a given system (the kernel's); a Config without Loops
// gets a private host system of one CPU per protocol thread, at most one
// per real CPU, started by New and stopped by Close.

// LoopFactory says which LWKT system the protocol threads run on.
type LoopFactory struct {
	sys *sched.System
}

// SchedLoops runs protocol thread i as a pinned LWKT thread on CPU i mod
// NCPU of sys.
func SchedLoops(sys *sched.System) LoopFactory { return LoopFactory{sys: sys} }

// hostSystem makes the private system of a stack without Config.Loops:
// one scheduler per CPU, as in the guest.
func hostSystem(threads int) *sched.System {
	n := min(threads, runtime.NumCPU(), 64)
	sys := sched.NewSystem(n, sched.Options{IdleSpin: 200})
	sys.Start()
	return sys
}

// Poll is what a protocol thread does between messages: run every timer
// that is due and say when it next needs to run.
type Poll func() (next time.Time, ok bool)

// Loop is one protocol thread: its LWKT thread, port and packet inbox.
type Loop struct {
	sys   *sched.System
	cpu   int
	td    *sched.Thread
	port  *sched.Port
	in    inbox
	poll  Poll
	serve func(c *sched.CPU, m sched.Message) error
	now   func() time.Time
	// turnDone, if set, runs on the thread at the end of every turn (and
	// after a call served inline): the link's deferred doorbells are rung
	// there (offload.go), one for all the frames of the turn.
	turnDone func()

	// kick is the message a Post sends when the inbox was empty (and Stop
	// sends); kickPending is set while it is in flight, so at most one is.
	kick        kickMsg
	kickReply   *sched.Port
	kickPending atomic.Bool
	stopping    atomic.Bool
	exited      chan struct{}

	// Owned by the thread's CPU: written by the thread, and by callers on
	// that CPU only while the thread is not running (the fast path).
	busy      bool      // the thread is between waits: callers must queue
	waitUntil time.Time // the timer the thread waits for (zero: none)
	turnEnd   []sched.Message
	items     uint64 // frames, hand-offs and messages served (tests' quiescence)

	// clockNow is the clock read once per turn of the thread (see Now);
	// clockValid is cleared when a new turn starts. Owned like the above.
	clockNow   time.Time
	clockValid bool

	// Message counters, any CPU.
	fast, queued atomic.Uint64

	// ext sends to the port from outside the system (goroutines):
	// System.SendMsgExternal without its per-message allocation.
	ext *sched.ExternalSender
}

type kickMsg struct{ sched.Msg }

// start makes the thread of protocol thread id on f's system. serve
// handles one message on the thread (or, on the fast path, in a caller
// on the same CPU); it returns the reply or sched.EASYNC if it keeps the
// message to reply later.
func (l *Loop) start(f LoopFactory, id int, poll Poll, now func() time.Time, serve func(*sched.CPU, sched.Message) error) {
	l.sys, l.poll, l.now, l.serve = f.sys, poll, now, serve
	l.cpu = id % f.sys.NCPU()
	l.exited = make(chan struct{})
	l.in = newInbox(l.wake)
	l.kickReply = sched.NewReplyPort("netisr-kick", func(*sched.CPU, *sched.Port, sched.Message) {})
	l.kick.Init(&l.kick, l.kickReply, 0)
	// The port is the thread's own, made by the thread before it runs
	// anything; start waits for it so that no sender sees it unset.
	ready := make(chan struct{})
	l.td = f.sys.GoExternal(l.cpu, sched.ThreadOpts{Name: "netisr", Prio: sched.PriSoftInt, Pinned: true},
		func(td *sched.Thread) {
			l.port = td.Port()
			l.port.SetPut(l.put)
			l.ext = f.sys.NewExternalSender(l.port)
			close(ready)
			l.run(td)
		})
	<-ready
}

// Now returns the clock as read at the start of the thread's current turn
// (read on the turn's first call). Everything the thread does in one turn
// (serving a batch of messages and frames, running its timers) sees one
// time, as a kernel's tick does: a read of the host clock costs 50-60 ns
// here and a turn made a dozen of them. Turns are short (the thread
// re-reads every turnItems items and before running timers), so the
// staleness is far below any TCP timer's granularity. Called only on the
// thread's CPU: by the thread, or by a caller on the fast path.
func (l *Loop) Now() time.Time {
	if !l.clockValid {
		l.clockNow = l.now()
		l.clockValid = true
	}
	return l.clockNow
}

// turnItems is how many messages or frames the thread serves on one clock
// reading before it reads the clock again.
const turnItems = 32

// Port returns the thread's message port: socket messages go there.
func (l *Loop) Port() *sched.Port { return l.port }

// Thread returns the protocol thread.
func (l *Loop) Thread() *sched.Thread { return l.td }

// Post queues fn to run on the thread, in order, without waiting. It is
// the packet path (received frames, hand-offs between threads); socket
// calls are messages. Safe from any goroutine.
func (l *Loop) Post(fn func()) { l.in.Post(fn) }

// wake sends the kick message unless one is in flight.
func (l *Loop) wake() {
	if l.kickPending.CompareAndSwap(false, true) {
		l.sendExternal(&l.kick)
	}
}

// sendExternal sends m to the thread's port from outside the system (any
// goroutine): the send runs on the thread's CPU, and the reply goes to
// m's reply port.
func (l *Loop) sendExternal(m sched.Message) { l.ext.Send(m) }

// Stop ends the thread before it serves another message: queued packets
// are dropped and queued messages are replied with ErrClosed. Safe from
// any goroutine.
func (l *Loop) Stop() {
	l.stopping.Store(true)
	l.in.Stop()
}

// Exited is closed when the thread has returned.
func (l *Loop) Exited() <-chan struct{} { return l.exited }

// Counters returns how many DoMsg calls the port completed in the
// caller's context (fast) and how many messages it queued for the thread.
func (l *Loop) Counters() (fast, queued uint64) { return l.fast.Load(), l.queued.Load() }

// put is the port's put function, run in the sender's context on CPU c.
// A DoMsg from a thread of the protocol thread's own CPU is served right
// there, as DragonFly's netisr ports do for synchronous messages, when
// nothing can observe the difference: the protocol thread is blocked on
// its port (not between two steps of its own work), no message is queued
// ahead (per-sender order holds) and the caller is not the protocol thread.
// The caller's critical section keeps an interrupt thread from preempting
// it halfway. Everything else is queued for the thread.
func (l *Loop) put(c *sched.CPU, p *sched.Port, m sched.Message) error {
	if m == sched.Message(&l.kick) {
		return p.Queue(c, m)
	}
	if m.Base().Flags()&sched.MsgSync != 0 && c.ID() == l.cpu && !l.busy && p.Len() == 0 {
		if cur := c.Current(); cur != nil && cur != l.td {
			return l.serveInline(c, cur, m)
		}
	}
	l.queued.Add(1)
	return p.Queue(c, m)
}

func (l *Loop) serveInline(c *sched.CPU, cur *sched.Thread, m sched.Message) error {
	l.fast.Add(1)
	cur.CritEnter()
	l.busy = true
	l.items++
	l.clockValid = false
	err := l.serve(c, m)
	// The call may have armed a timer earlier than the one the thread
	// waits for (a retransmission, a delayed ACK): wake it to re-arm.
	next, ok := l.poll()
	early := ok && (l.waitUntil.IsZero() || next.Before(l.waitUntil))
	l.endTurn(c)
	l.busy = false
	if early && l.kickPending.CompareAndSwap(false, true) {
		c.SendMsg(l.port, &l.kick)
	}
	cur.CritExit()
	return err
}

// run is the thread: serve every queued message, run the inbox, run due
// timers, then wait on the port until a message or the next timer.
func (l *Loop) run(td *sched.Thread) {
	defer close(l.exited)
	c := td.CPU()
	var m sched.Message
	for {
		l.busy = true
		l.clockValid = false
		for m != nil {
			if l.stopping.Load() {
				l.refuse(c, m)
				l.drain(td)
				return
			}
			l.handle(c, m)
			m = td.GetMsg(l.port)
		}
		if l.stopping.Load() || l.in.run(&l.items) {
			l.drain(td)
			return
		}
		l.clockValid = false // the timers below are judged on a fresh reading
		next, ok := l.poll()
		l.endTurn(c)
		// Messages from outside the system that arrived during the turn
		// wait in the CPU's IPI queue, which the scheduler runs only
		// between threads: run it now (Poll), so that they are served in
		// this turn instead of after a sleep and a switch.
		td.Poll()
		if m = td.GetMsg(l.port); m != nil || l.in.pending() {
			continue
		}
		d := time.Duration(-1)
		l.waitUntil = time.Time{}
		if ok {
			d = max(next.Sub(l.Now()), 0)
			l.waitUntil = next
		}
		l.busy = false
		m, _ = td.WaitPortTimeout(l.port, d)
	}
}

// handle serves one message received from the port.
func (l *Loop) handle(c *sched.CPU, m sched.Message) {
	if m == sched.Message(&l.kick) {
		c.ReplyMsg(m, nil)
		// Cleared after the reply (the message may be sent again) and
		// before the inbox runs, so a Post that follows sends a new kick.
		l.kickPending.Store(false)
		return
	}
	l.items++
	if l.items%turnItems == 0 {
		l.clockValid = false
	}
	if err := l.serve(c, m); err != sched.EASYNC {
		c.ReplyMsg(m, err)
	}
}

// deferToTurnEnd keeps m (its serve returns EASYNC) and replies nil to it
// once the thread has run its inbox and timers: a barrier.
func (l *Loop) deferToTurnEnd(m sched.Message) error {
	l.turnEnd = append(l.turnEnd, m)
	return sched.EASYNC
}

// endTurn closes a turn: the replies held for its end, then the link's
// deferred doorbells (turnDone).
func (l *Loop) endTurn(c *sched.CPU) {
	l.flushTurnEnd(c)
	if l.turnDone != nil {
		l.turnDone()
	}
}

func (l *Loop) flushTurnEnd(c *sched.CPU) {
	for i, m := range l.turnEnd {
		l.turnEnd[i] = nil
		c.ReplyMsg(m, nil)
	}
	l.turnEnd = l.turnEnd[:0]
}

// drain answers every message still queued when the thread stops.
// Messages that arrive after it has exited get no reply: callers outside
// the system stop waiting when Exited is closed.
func (l *Loop) drain(td *sched.Thread) {
	c := td.CPU()
	for m := td.GetMsg(l.port); m != nil; m = td.GetMsg(l.port) {
		l.refuse(c, m)
	}
	l.flushTurnEnd(c)
}

// refuse answers a message the stopping thread will not serve.
func (l *Loop) refuse(c *sched.CPU, m sched.Message) {
	if m == sched.Message(&l.kick) {
		c.ReplyMsg(m, nil)
		return
	}
	c.ReplyMsg(m, ErrClosed)
}

// System returns the LWKT system the protocol threads run on (the one
// given by SchedLoops, or the stack's own on the host).
func (s *Stack) System() *sched.System { return s.sys }
