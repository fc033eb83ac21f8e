package vfs

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"damselfly/ipi"
	"damselfly/sched"
)

// Port is the message port of one mounted filesystem, after DragonFly's lwkt_port: a
// sched spin port whose put function either completes a VOP at once in the sender's context
// (the filesystem said the operation cannot block, or managed it without blocking) or queues
// it for the mount's filesystem threads, LWKT threads of a sched.System that all receive from
// the port.
//
// Senders are LWKT threads of that system (DoMsgThread: sched's DoMsg, waiting through the
// thread's own port) or plain goroutines (DoMsg, SendMsg: the application API, which has no
// thread), whose queued messages enter the system through SendMsgExternal and come back
// through a reply-only port that wakes them.
//
// Filesystem code (ext2 over a VM object, memfs) takes Go locks and waits for disk I/O, so a
// filesystem thread does not call it directly: it hands each queued VOP to its own helper
// goroutine and sleeps in the scheduler until it is done (sched.Helper), so the thread
// blocks only through LWKT primitives and the other threads of its CPU keep running.
type Port struct {
	fs   Filesystem
	fast FastPather // nil: nothing runs on the fast path
	try  TryFaster  // nil: no opportunistic fast path
	name string

	sys     *sched.System
	queue   *sched.Port // spin port the filesystem threads receive from
	reply   *sched.Port // reply-only port for senders outside the system
	threads []*fsThread

	senders   atomic.Int64 // sends in progress; close waits for them before the stop messages
	closed    atomic.Bool
	closeOnce sync.Once

	// Counters (slow paths), for the status page.
	FastPath atomic.Uint64 // messages completed in the sender's context
	Queued   atomic.Uint64 // messages handed to the filesystem threads
	// The same by sender: index i for LWKT threads on CPU i, NCPU for goroutines.
	fastBy, queuedBy []atomic.Uint64
}

// fsThread is one filesystem thread of a port.
type fsThread struct {
	td     *sched.Thread
	cpu    int
	helper *sched.Helper // runs its VOPs while it sleeps
	served atomic.Uint64 // queued VOPs it ran
}

// hostSched is the sched.System of mounts that were not given one (MountOptions.Sched nil):
// host programs and tests. Owned by package vfs, started by the first such mount, one CPU
// per host CPU, never stopped (mounts come and go; their threads exit at unmount).
var hostSched = sync.OnceValue(func() *sched.System {
	s := sched.NewSystem(min(runtime.NumCPU(), ipi.MaxCPUs), sched.Options{})
	s.Start()
	return s
})

// HostSched returns the system that serves mounts given no MountOptions.Sched.
func HostSched() *sched.System { return hostSched() }

// NewPort starts threads filesystem threads serving fs (one per CPU when threads <= 0) on
// sys (nil: HostSched).
func NewPort(fs Filesystem, sys *sched.System, threads int) *Port {
	return newPort(fs, sys, threads, "vfs")
}

func newPort(fs Filesystem, sys *sched.System, threads int, name string) *Port {
	if sys == nil {
		sys = hostSched()
	}
	if threads <= 0 {
		threads = sys.NCPU()
	}
	p := &Port{fs: fs, name: name, sys: sys}
	p.fastBy = make([]atomic.Uint64, sys.NCPU()+1)
	p.queuedBy = make([]atomic.Uint64, sys.NCPU()+1)
	p.fast, _ = fs.(FastPather)
	p.try, _ = fs.(TryFaster)
	p.queue = sys.NewSpinPort(name)
	p.queue.SetPut(p.put)
	p.reply = sched.NewReplyPort(name+":reply", p.replied)
	for i := 0; i < threads; i++ {
		t := &fsThread{cpu: i % sys.NCPU(), helper: sched.NewHelper(sys)}
		p.threads = append(p.threads, t)
		opts := sched.ThreadOpts{Name: fmt.Sprintf("%s/%d", name, i), Prio: sched.PriKernel, Pinned: true}
		t.td = sys.GoExternal(t.cpu, opts, func(td *sched.Thread) { p.serve(td, t) })
	}
	return p
}

// System returns the sched.System whose threads serve the port.
func (p *Port) System() *sched.System { return p.sys }

// SchedPort returns the underlying sched port. LWKT code may send *Msg to it directly
// (td.DoMsg(p.SchedPort(), &m.Msg), c.SendMsg) once the message is initialised with
// m.Msg.Init(m, reply, 0).
func (p *Port) SchedPort() *sched.Port { return p.queue }

// serve is a filesystem thread: it takes the next queued VOP, runs it on its helper
// goroutine while sleeping in the scheduler, and replies. A stop message ends it.
func (p *Port) serve(td *sched.Thread, t *fsThread) {
	defer t.helper.Close()
	for {
		m := td.WaitPort(p.queue).(*Msg)
		if m.stop {
			return
		}
		t.helper.Run(td, func() { dispatch(p.fs, m) })
		t.served.Add(1)
		td.ReplyMsg(m, nil) // the VOP's own error is in m.Err
	}
}

// put is the port's put function, run in the sender's context on CPU c: a VOP that cannot
// block completes here; any other is queued for the filesystem threads (EASYNC).
func (p *Port) put(c *sched.CPU, sp *sched.Port, sm sched.Message) error {
	m, ok := sm.(*Msg)
	if !ok {
		panic(fmt.Sprintf("vfs: port %s: message %T is not a *vfs.Msg", p.name, sm))
	}
	if m.stop {
		return sp.Queue(c, m)
	}
	sender := p.sys.NCPU() // a goroutine's message, entering through SendMsgExternal
	if !m.tried {
		sender = c.ID()
		if p.runFast(m, sender) {
			return nil
		}
	}
	p.Queued.Add(1)
	p.queuedBy[sender].Add(1)
	return sp.Queue(c, m)
}

// replied takes back a message sent from outside the system: a synchronous sender is woken,
// an asynchronous one gets the message on its reply channel. It runs on a CPU, so it must not
// block: a full reply channel is fed from a goroutine.
func (p *Port) replied(_ *sched.CPU, _ *sched.Port, sm sched.Message) {
	m := sm.(*Msg)
	if m.done != nil {
		close(m.done)
		return
	}
	if m.reply != nil {
		select {
		case m.reply <- m:
		default:
			go func(r chan<- *Msg) { r <- m }(m.reply)
		}
	}
}

// runFast completes m in the caller's context if the filesystem says it cannot block, or if
// its opportunistic attempt succeeds without blocking. sender indexes the per-sender
// counters.
func (p *Port) runFast(m *Msg, sender int) bool {
	if p.fast != nil && p.fast.CanFastPath(m) {
		dispatch(p.fs, m)
	} else if p.try == nil || !p.try.TryFastPath(m) {
		return false
	}
	p.FastPath.Add(1)
	p.fastBy[sender].Add(1)
	return true
}

// sendExternal queues m (whose fast path the caller already tried) from outside the system.
// It reports false if the port is closed.
func (p *Port) sendExternal(m *Msg) bool {
	p.senders.Add(1)
	defer p.senders.Add(-1)
	if p.closed.Load() {
		return false
	}
	m.Msg.Init(m, p.reply, 0)
	m.tried = true
	p.sys.SendMsgExternal(p.queue, m)
	return true
}

// DoMsg sends m from a goroutine outside the port's system and waits for the reply,
// returning m.Err. On the fast path this is a plain function call in the caller.
func (p *Port) DoMsg(m *Msg) error {
	if p.closed.Load() {
		m.Err = EBADF
		return m.Err
	}
	if p.runFast(m, p.sys.NCPU()) {
		return m.Err
	}
	done := make(chan struct{})
	m.done, m.reply = done, nil
	if !p.sendExternal(m) {
		m.Err = EBADF
		return m.Err
	}
	<-done
	return m.Err
}

// DoMsgThread sends m from LWKT thread td of the port's system and waits for the reply
// through td's own port (sched's DoMsg): the put runs in td's context, so a VOP that cannot
// block completes there; a queued one puts td to sleep until a filesystem thread replies.
func (p *Port) DoMsgThread(td *sched.Thread, m *Msg) error {
	if td.System() != p.sys {
		panic(fmt.Sprintf("vfs: port %s: DoMsgThread from thread %v of another system", p.name, td))
	}
	p.senders.Add(1)
	defer p.senders.Add(-1)
	if p.closed.Load() {
		m.Err = EBADF
		return m.Err
	}
	m.Msg.Init(m, nil, 0)
	m.tried, m.done, m.reply = false, nil, nil
	td.DoMsg(p.queue, &m.Msg)
	return m.Err
}

// SendMsg sends m from a goroutine without waiting; the finished message is delivered on
// reply, even when it completed synchronously, so the sender always sees one reply per
// message (as lwkt_sendmsg).
func (p *Port) SendMsg(m *Msg, reply chan<- *Msg) {
	m.reply, m.done = reply, nil
	switch {
	case p.closed.Load():
		m.Err = EBADF
	case p.runFast(m, p.sys.NCPU()):
	case p.sendExternal(m):
		return // queued: replied delivers it
	default:
		m.Err = EBADF
	}
	reply <- m
}

// close stops the threads after the queued messages have been served: every sender that got
// past the closed check has queued its message before the stop messages, which each thread
// takes after everything queued ahead of them.
func (p *Port) close() {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		for p.senders.Load() != 0 {
			runtime.Gosched()
		}
		for range p.threads {
			m := &Msg{stop: true}
			m.Msg.Init(m, p.reply, 0)
			p.sys.SendMsgExternal(p.queue, m)
		}
	})
	for _, t := range p.threads {
		<-t.td.Done()
	}
}

// PortStats is a snapshot of a port's counters.
type PortStats struct {
	Name     string
	FastPath uint64 // VOPs completed in the sender's context
	Queued   uint64 // VOPs handed to the filesystem threads
	// By sender: element i counts VOPs sent by LWKT threads on CPU i, the last element
	// those sent by goroutines (the application API).
	FastPathBy, QueuedBy []uint64
	Threads              []ThreadStats
}

// ThreadStats are one filesystem thread's counters.
type ThreadStats struct {
	Name   string
	CPU    int
	Served uint64 // queued VOPs it ran
}

// Stats returns the port's counters.
func (p *Port) Stats() PortStats {
	s := PortStats{Name: p.name, FastPath: p.FastPath.Load(), Queued: p.Queued.Load()}
	for i := range p.fastBy {
		s.FastPathBy = append(s.FastPathBy, p.fastBy[i].Load())
		s.QueuedBy = append(s.QueuedBy, p.queuedBy[i].Load())
	}
	for _, t := range p.threads {
		s.Threads = append(s.Threads, ThreadStats{Name: t.td.Name(), CPU: t.cpu, Served: t.served.Load()})
	}
	return s
}

// String formats the counters on one line per thread.
func (s PortStats) String() string {
	out := fmt.Sprintf("%s: %d sync, %d queued\n", s.Name, s.FastPath, s.Queued)
	for i := range s.FastPathBy {
		who := fmt.Sprintf("cpu%d threads", i)
		if i == len(s.FastPathBy)-1 {
			who = "goroutines"
		}
		out += fmt.Sprintf("  from %s: %d sync, %d queued\n", who, s.FastPathBy[i], s.QueuedBy[i])
	}
	for _, t := range s.Threads {
		out += fmt.Sprintf("  %s cpu%d served %d\n", t.Name, t.CPU, t.Served)
	}
	return out
}
