package sched

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// Message ports (DragonFly's lwkt_port). A port is a put function (what happens when a
// message is sent to it), a reply function (what happens when a message whose reply port
// it is gets replied) and, for receivable kinds, queues and a way to wait.

// PortKind says how a port queues, who may receive from it and how waiters are woken.
type PortKind uint8

const (
	// PortThread is owned by one thread: only the owner receives and waits. Puts and
	// replies from other CPUs travel by IPI to the owner's CPU; no locks.
	PortThread PortKind = iota + 1
	// PortSpin is protected by a spin lock: threads on any CPU may receive and wait.
	PortSpin
	// PortReplyOnly only receives replies, through a custom reply function; puts panic.
	PortReplyOnly
	// PortPutOnly only accepts puts, through a custom put function; replies and waits panic.
	PortPutOnly
)

var kindNames = [...]string{"?", "thread", "spin", "reply-only", "put-only"}

func (k PortKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind%d", k)
}

// PutFunc is a port's put function. It runs in the sender's context on CPU c. It either
// acts on m and returns the result (not EASYNC; it must not reply then), or queues m (or
// takes it to reply later) and returns EASYNC.
type PutFunc func(c *CPU, p *Port, m Message) error

// ReplyFunc is a reply-only port's reply function, run in the replier's context on CPU c.
// The message is already DONE|REPLY and belongs to the function.
type ReplyFunc func(c *CPU, p *Port, m Message)

// Handler serves the messages of a service port in its owner thread (see NewServicePort).
// It returns the result, or EASYNC if it keeps the message and replies later.
type Handler func(td *Thread, m Message) error

// Port is a message port. Create with NewThreadPort, NewServicePort, System.NewSpinPort,
// NewReplyPort or NewPutPort.
type Port struct {
	kind    PortKind
	name    string
	owner   *Thread // PortThread: the only receiver
	sys     *System
	putFn   PutFunc
	replyFn ReplyFunc
	handler Handler
	// directFor is the owner while putFn is servicePut (SetPut clears it): a DoMsg from
	// that thread calls handler itself. One field, so DoMsg tests it with one compare.
	directFor *Thread

	// Receive side: owned by the owner's CPU (PortThread) or guarded by lock (PortSpin).
	lock    spinLock
	q, pq   msgList   // normal and priority queues
	waiting bool      // PortThread: the owner is blocked on this port
	waiters []*Thread // PortSpin: threads blocked on this port
}

// NewThreadPort returns a port owned by td.
func NewThreadPort(td *Thread) *Port { return newThreadPort(td) }

func newThreadPort(td *Thread) *Port {
	return &Port{kind: PortThread, name: td.name, owner: td, sys: td.sys, putFn: threadPut, replyFn: threadReply}
}

// NewServicePort returns a thread port owned by td whose messages are served by h in td
// (td calls Serve). A DoMsg from td itself runs h directly: the synchronous fast path
// DragonFly's network threads use; other senders queue.
func NewServicePort(td *Thread, h Handler) *Port {
	p := newThreadPort(td)
	p.handler = h
	p.putFn = servicePut
	p.directFor = td
	return p
}

// NewSpinPort returns a port any thread may receive from.
func (s *System) NewSpinPort(name string) *Port {
	return &Port{kind: PortSpin, name: name, sys: s, putFn: spinPut, replyFn: spinReply}
}

// NewReplyPort returns a port that only takes replies, handing each to fn.
func NewReplyPort(name string, fn ReplyFunc) *Port {
	if fn == nil {
		panic("sched: NewReplyPort: nil reply function")
	}
	return &Port{kind: PortReplyOnly, name: name, putFn: panicPut, replyFn: fn}
}

// NewPutPort returns a port that only takes puts, handing each to fn.
func NewPutPort(name string, fn PutFunc) *Port {
	if fn == nil {
		panic("sched: NewPutPort: nil put function")
	}
	return &Port{kind: PortPutOnly, name: name, putFn: fn, replyFn: panicReply}
}

// Kind returns the port's kind.
func (p *Port) Kind() PortKind { return p.kind }

// Name returns the port's name.
func (p *Port) Name() string { return p.name }

// Owner returns the owning thread of a thread port, else nil.
func (p *Port) Owner() *Thread { return p.owner }

// SetPut replaces the port's put function (for example with one that acts on some
// messages synchronously and calls p.Queue for the rest). Set it before the port is used.
func (p *Port) SetPut(fn PutFunc) {
	p.putFn = fn
	p.directFor = nil
}

// Queue is the default put of a thread or spin port: it queues m and returns EASYNC.
// Custom put functions call it for the messages they do not complete themselves.
func (p *Port) Queue(c *CPU, m Message) error {
	switch p.kind {
	case PortThread:
		return threadPut(c, p, m)
	case PortSpin:
		return spinPut(c, p, m)
	}
	panic(fmt.Sprintf("sched: Queue on %v port %q", p.kind, p.name))
}

func panicPut(c *CPU, p *Port, m Message) error {
	panic(fmt.Sprintf("sched: put to reply-only port %q", p.name))
}

func panicReply(c *CPU, p *Port, m Message) {
	panic(fmt.Sprintf("sched: reply to put-only port %q", p.name))
}

// assertReceiver panics unless td may receive from and wait on p.
func (p *Port) assertReceiver(td *Thread, op string) {
	switch p.kind {
	case PortThread:
		if p.owner != td {
			panic(fmt.Sprintf("sched: %s: thread %v is not the owner of port %q", op, td, p.name))
		}
	case PortSpin:
	default:
		panic(fmt.Sprintf("sched: %s on %v port %q", op, p.kind, p.name))
	}
}

// ---- thread ports ----

func threadPut(c *CPU, p *Port, m Message) error {
	if oc := p.owner.cpu.Load(); oc != c {
		c.sys.ipi.Send(c.id, oc.id, threadPutIPI, m)
		return EASYNC
	}
	p.queueLocal(c, m)
	c.checkPreempt()
	return EASYNC
}

func threadPutIPI(cpu int, arg any) {
	m := arg.(Message)
	p := m.Base().target
	c := p.sys.cpus[cpu]
	if oc := p.owner.cpu.Load(); oc != c { // the owner migrated: follow it
		c.sys.ipi.Send(c.id, oc.id, threadPutIPI, m)
		return
	}
	p.queueLocal(c, m)
}

// queueLocal queues m on thread port p, whose owner belongs to c, and wakes the owner.
func (p *Port) queueLocal(c *CPU, m Message) {
	b := m.Base()
	b.flags |= MsgQueued
	p.insert(b)
	if p.waiting {
		c.scheduleLocal(p.owner)
	}
}

func servicePut(c *CPU, p *Port, m Message) error {
	if m.Base().flags&MsgSync != 0 && c.cur == p.owner {
		return p.handler(p.owner, m)
	}
	return threadPut(c, p, m)
}

func threadReply(c *CPU, p *Port, m Message) {
	if oc := p.owner.cpu.Load(); oc != c {
		c.sys.ipi.Send(c.id, oc.id, threadReplyIPI, m)
		return
	}
	p.replyLocal(c, m)
	c.checkPreempt()
}

func threadReplyIPI(cpu int, arg any) {
	m := arg.(Message)
	p := m.Base().ReplyPort
	c := p.sys.cpus[cpu]
	if oc := p.owner.cpu.Load(); oc != c {
		c.sys.ipi.Send(c.id, oc.id, threadReplyIPI, m)
		return
	}
	p.replyLocal(c, m)
}

// replyLocal takes a replied message back on thread port p (on the owner's CPU c).
func (p *Port) replyLocal(c *CPU, m Message) {
	b := m.Base()
	b.flags |= MsgDone
	if b.flags&MsgSync == 0 {
		b.flags |= MsgQueued
		p.insert(b)
	}
	b.replied.Store(1)
	if p.waiting {
		c.scheduleLocal(p.owner)
	}
}

// ---- spin ports ----

func spinPut(c *CPU, p *Port, m Message) error {
	b := m.Base()
	p.lock.lock()
	b.flags |= MsgQueued
	p.insert(b)
	ws := p.takeWaiters()
	p.lock.unlock()
	wakeAll(c, ws)
	return EASYNC
}

func spinReply(c *CPU, p *Port, m Message) {
	b := m.Base()
	p.lock.lock()
	b.flags |= MsgDone
	if b.flags&MsgSync == 0 {
		b.flags |= MsgQueued
		p.insert(b)
	}
	b.replied.Store(1)
	ws := p.takeWaiters()
	p.lock.unlock()
	wakeAll(c, ws)
}

func (p *Port) takeWaiters() []*Thread {
	ws := p.waiters
	p.waiters = nil
	return ws
}

// wakeAll schedules every waiter of a spin port; each re-checks what it waits for. Never
// called with the port lock held: scheduling may send IPIs, whose FIFO-full wait runs IPI
// functions that may take the same lock.
func wakeAll(c *CPU, ws []*Thread) {
	for _, td := range ws {
		c.Schedule(td)
	}
}

// ---- receiving ----

// GetMsg returns the next message on p (priority queue first), or nil. Called by a thread
// that may receive from p.
func (td *Thread) GetMsg(p *Port) Message {
	td.assertRunning("GetMsg")
	p.assertReceiver(td, "GetMsg")
	if p.kind == PortSpin {
		p.lock.lock()
		defer p.lock.unlock()
	}
	return p.pop()
}

// WaitPort waits for and returns the next message on p.
func (td *Thread) WaitPort(p *Port) Message {
	m, _ := td.WaitPortTimeout(p, -1)
	return m
}

// WaitPortTimeout is WaitPort giving up after d (d < 0: never) with ErrTimeout.
func (td *Thread) WaitPortTimeout(p *Port, d time.Duration) (Message, error) {
	td.assertRunning("WaitPort")
	p.assertReceiver(td, "WaitPort")
	w := portWait{}
	if !p.wait(td, &w, d) {
		return nil, ErrTimeout
	}
	return w.got, nil
}

// portWait is what a port wait waits for: a reply to one message, or any message on the
// port. A struct on the waiter's stack rather than a closure, so a wait allocates nothing.
type portWait struct {
	replied *Msg    // non-nil: wait until the port has taken this message's reply
	got     Message // otherwise: the message popped from the port
}

// ready evaluates w on p's side (owner CPU or under the port's lock).
func (p *Port) ready(w *portWait) bool {
	if w.replied != nil {
		return w.replied.replied.Load() != 0
	}
	w.got = p.pop()
	return w.got != nil
}

// wait blocks td until w is ready (evaluated on p's side: owner CPU or under the lock),
// or d passes (d < 0: no limit). It reports whether w became ready.
func (p *Port) wait(td *Thread, w *portWait, d time.Duration) bool {
	var deadline time.Duration
	now := time.Duration(-1) // the reading deadline came from, used by the first sleep only
	if d >= 0 {
		now = td.cpu.Load().Now()
		deadline = now + d
	}
	for {
		if p.kind == PortSpin {
			p.lock.lock()
			if p.ready(w) {
				p.lock.unlock()
				return true
			}
			p.waiters = append(p.waiters, td)
			td.Deschedule()
			p.lock.unlock()
		} else {
			if p.ready(w) {
				return true
			}
			p.waiting = true
			td.Deschedule()
		}
		if d < 0 {
			td.switchOut()
			p.unwait(td)
			continue
		}
		expired := !td.sleepUntil(deadline, now)
		now = -1
		p.unwait(td)
		if expired {
			// One last look: the wakeup and the timeout may have raced.
			if p.kind == PortSpin {
				p.lock.lock()
				defer p.lock.unlock()
			}
			return p.ready(w)
		}
	}
}

// unwait forgets td as a waiter of p after it resumed.
func (p *Port) unwait(td *Thread) {
	if p.kind != PortSpin {
		p.waiting = false
		return
	}
	p.lock.lock()
	for i, w := range p.waiters {
		if w == td {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.lock.unlock()
}

// takeReply removes a replied message from its reply port's queue. Waiter side.
func (p *Port) takeReply(b *Msg) {
	if p.kind == PortSpin {
		p.lock.lock()
		defer p.lock.unlock()
	}
	if b.flags&MsgQueued != 0 && b.onPort == p {
		p.remove(b)
	}
	b.flags &^= MsgSync
	b.inflight = false
}

// drop implements DropMsg on p.
func (p *Port) drop(c *CPU, b *Msg) bool {
	switch p.kind {
	case PortThread:
		if oc := p.owner.cpu.Load(); oc != c {
			panic(fmt.Sprintf("sched: DropMsg on cpu %d for port %q of cpu %d", c.id, p.name, oc.id))
		}
	case PortSpin:
		p.lock.lock()
		defer p.lock.unlock()
	default:
		return false
	}
	if b.onPort != p || b.flags&(MsgQueued|MsgDone) != MsgQueued {
		return false
	}
	p.remove(b)
	b.flags = MsgDone
	b.inflight = false
	return true
}

// Remove takes m off p's queue if it is queued there (for abort functions running on the
// port's CPU). The caller then owns m and usually replies to it.
func (p *Port) Remove(c *CPU, m Message) bool {
	b := m.Base()
	switch p.kind {
	case PortSpin:
		p.lock.lock()
		defer p.lock.unlock()
	case PortThread:
		if oc := p.owner.cpu.Load(); oc != c {
			panic(fmt.Sprintf("sched: Port.Remove on cpu %d for port %q of cpu %d", c.id, p.name, oc.id))
		}
	default:
		return false
	}
	if b.onPort != p || b.flags&MsgQueued == 0 {
		return false
	}
	p.remove(b)
	return true
}

// Serve receives messages on service port p forever, passing each to p's handler and
// replying with its result unless that is EASYNC. The thread ends it with Exit.
func (td *Thread) Serve(p *Port) {
	if p.handler == nil {
		panic(fmt.Sprintf("sched: Serve: port %q has no handler", p.name))
	}
	for {
		m := td.WaitPort(p)
		if err := p.handler(td, m); err != EASYNC {
			td.cpu.Load().ReplyMsg(m, err)
		}
	}
}

// ---- queues ----

// msgList is an intrusive doubly linked FIFO of messages.
type msgList struct {
	head, tail *Msg
	n          int
}

// insert queues b; pop gives back b.self, the outer message recorded by Init.
func (p *Port) insert(b *Msg) {
	b.onPort = p
	l := &p.q
	if b.opts&MsgPriority != 0 {
		l = &p.pq
	}
	b.qnext, b.qprev = nil, l.tail
	if l.tail != nil {
		l.tail.qnext = b
	} else {
		l.head = b
	}
	l.tail = b
	l.n++
}

func (p *Port) remove(b *Msg) {
	l := &p.q
	if b.opts&MsgPriority != 0 {
		l = &p.pq
	}
	if b.qprev != nil {
		b.qprev.qnext = b.qnext
	} else {
		l.head = b.qnext
	}
	if b.qnext != nil {
		b.qnext.qprev = b.qprev
	} else {
		l.tail = b.qprev
	}
	b.qnext, b.qprev = nil, nil
	b.onPort = nil
	b.flags &^= MsgQueued
	l.n--
}

// pop removes and returns the first message, priority queue first.
func (p *Port) pop() Message {
	b := p.pq.head
	if b == nil {
		b = p.q.head
	}
	if b == nil {
		return nil
	}
	p.remove(b)
	return b.self
}

// Len returns the number of queued messages. Receiver side only.
func (p *Port) Len() int { return p.q.n + p.pq.n }

// spinLock is a test-and-test-and-set lock. Holders never switch or send IPIs while
// holding it, so waiting is short; Relax lets the holder run when CPUs share cores.
type spinLock struct {
	v atomic.Uint32
}

func (l *spinLock) lock() {
	for !l.v.CompareAndSwap(0, 1) {
		for l.v.Load() != 0 {
			relax()
		}
	}
}

func (l *spinLock) unlock() { l.v.Store(0) }

// relax is one turn of a spin-wait: on the host the CPUs are goroutines sharing fewer real
// cores, so let the holder run; in the guest the runtime port makes it a PAUSE.
func relax() { runtime.Gosched() }
