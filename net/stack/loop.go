package stack

import (
	"sync"
	"time"
)

// A Loop is the execution context of one protocol thread: a single-owner
// event loop fed through an inbox of functions (packets and control
// messages alike) and woken by one timer. Everything a protocol thread
// owns (its tcp.Stack, ARP cache, reassembler, counters) is touched only
// from functions the Loop runs, one at a time, so none of it is locked.
//
// This is the narrow interface between the stack and the thread layer: on
// the host it is a goroutine (GoLoops); in the kernel it is an LWKT thread
// pinned to its CPU with a message port (see the note in docs/net.md).
type Loop interface {
	// Post queues fn to run on the thread, in order, without waiting:
	// lwkt_sendmsg. Safe from any goroutine, including the thread.
	Post(fn func())
	// Do runs fn on the thread and waits for it: lwkt_domsg. It must not
	// be called from the thread itself. It returns false, without running
	// fn, if the loop has stopped.
	Do(fn func()) bool
	// Stop ends the loop; queued functions are discarded.
	Stop()
}

// Poll is what a protocol thread does between messages: run every timer
// that is due and say when it next needs to run.
type Poll func() (next time.Time, ok bool)

// LoopFactory starts the loop of thread cpu. The loop calls poll after
// each batch of messages and when the time poll returned is reached.
type LoopFactory func(cpu int, poll Poll) Loop

// GoLoops runs each protocol thread as a goroutine on the real clock.
func GoLoops(cpu int, poll Poll) Loop {
	l := &goLoop{poll: poll, wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	go l.run()
	return l
}

type goLoop struct {
	poll Poll
	mu   sync.Mutex // guards inbox and stopped
	// inbox is swapped out whole by the loop, so producers append to a
	// fresh slice while the loop runs the previous batch.
	inbox   []func()
	spare   []func()
	stopped bool
	wake    chan struct{}
	stop    chan struct{}
	// exited is closed when run returns: no function runs after it, so a
	// Do that sees it knows its function will never run concurrently.
	exited chan struct{}
}

func (l *goLoop) Post(fn func()) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.inbox = append(l.inbox, fn)
	first := len(l.inbox) == 1
	l.mu.Unlock()
	if first {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

func (l *goLoop) Do(fn func()) bool {
	done := make(chan struct{})
	l.Post(func() { fn(); close(done) })
	select {
	case <-done:
		return true
	case <-l.exited:
		return false
	}
}

func (l *goLoop) Stop() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.stop)
	}
	l.mu.Unlock()
}

func (l *goLoop) run() {
	defer close(l.exited)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.mu.Lock()
		batch := l.inbox
		l.inbox = l.spare[:0]
		l.mu.Unlock()
		for i, fn := range batch {
			fn()
			batch[i] = nil
		}
		l.spare = batch
		next, ok := l.poll()
		l.mu.Lock()
		pending := len(l.inbox) > 0
		l.mu.Unlock()
		if pending {
			continue
		}
		if ok {
			timer.Reset(time.Until(next))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-l.stop:
			return
		case <-l.wake:
		case <-timer.C:
		}
	}
}
