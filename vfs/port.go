package vfs

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Port is the message port of one mounted filesystem, after DragonFly's lwkt_port: DoMsg and
// SendMsg hand a message to putport, which either completes it at once in the sender's context
// (the filesystem said the operation cannot block) or queues it to the filesystem threads.
//
// The threads are goroutines here; when the kernel runs on LWKT the same port is served by
// sched threads, one per CPU, without changing the VOP contract.
type Port struct {
	fs    Filesystem
	fast  FastPather // nil: nothing runs on the fast path
	try   TryFaster  // nil: no opportunistic fast path
	queue chan *Msg
	wg    sync.WaitGroup

	closeOnce sync.Once
	closed    atomic.Bool

	// Counters (slow paths), for the status page.
	FastPath atomic.Uint64 // messages completed in the sender's context
	Queued   atomic.Uint64 // messages handed to a filesystem thread
}

// NewPort starts threads filesystem threads serving fs (one per CPU when threads <= 0) as
// goroutines.
func NewPort(fs Filesystem, threads int) *Port { return newPort(fs, threads, nil, "vfs") }

func newPort(fs Filesystem, threads int, spawn func(string, func()), name string) *Port {
	if spawn == nil {
		spawn = func(_ string, fn func()) { go fn() }
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Port{fs: fs, queue: make(chan *Msg, 4*threads)}
	p.fast, _ = fs.(FastPather)
	p.try, _ = fs.(TryFaster)
	p.wg.Add(threads)
	for i := 0; i < threads; i++ {
		spawn(fmt.Sprintf("%s/%d", name, i), p.thread)
	}
	return p
}

func (p *Port) thread() {
	defer p.wg.Done()
	for m := range p.queue {
		dispatch(p.fs, m)
		p.replyMsg(m)
	}
}

// replyMsg completes a queued message: a synchronous sender is woken, an asynchronous one gets
// the message on its reply channel.
func (p *Port) replyMsg(m *Msg) {
	if m.done != nil {
		close(m.done)
		return
	}
	if m.reply != nil {
		m.reply <- m
	}
}

// putport runs m now if it can complete without blocking, else queues it. It reports whether
// the message is already done.
func (p *Port) putport(m *Msg) bool {
	if p.runFast(m) {
		return true
	}
	if p.closed.Load() {
		m.Err = EBADF
		return true
	}
	p.Queued.Add(1)
	p.queue <- m
	return false
}

// runFast completes m in the caller's context if the filesystem says it cannot block, or if
// its opportunistic attempt succeeds without blocking.
func (p *Port) runFast(m *Msg) bool {
	if p.fast != nil && p.fast.CanFastPath(m) {
		p.FastPath.Add(1)
		dispatch(p.fs, m)
		return true
	}
	if p.try != nil && p.try.TryFastPath(m) {
		p.FastPath.Add(1)
		return true
	}
	return false
}

// DoMsg sends m and waits for the reply, returning m.Err. On the fast path this is a plain
// function call.
func (p *Port) DoMsg(m *Msg) error {
	m.reply = nil
	m.done = nil
	if p.runFast(m) {
		return m.Err
	}
	if p.closed.Load() {
		return EBADF
	}
	m.done = make(chan struct{})
	p.Queued.Add(1)
	p.queue <- m
	<-m.done
	m.done = nil
	return m.Err
}

// SendMsg sends m without waiting; the finished message is delivered on reply, even when it
// completed synchronously, so the sender always sees one reply per message.
func (p *Port) SendMsg(m *Msg, reply chan<- *Msg) {
	m.reply = reply
	m.done = nil
	if p.putport(m) {
		reply <- m
	}
}

// close stops the threads after the queued messages have been served.
func (p *Port) close() {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.queue)
	})
	p.wg.Wait()
}
