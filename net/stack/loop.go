package stack

import (
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
	l := &goLoop{poll: poll, wakec: make(chan struct{}, 1)}
	l.inbox = newInbox(func() {
		select {
		case l.wakec <- struct{}{}:
		default:
		}
	})
	go l.run()
	return l
}

type goLoop struct {
	inbox
	poll  Poll
	wakec chan struct{}
}

func (l *goLoop) run() {
	defer close(l.exited)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if l.inbox.run() {
			return
		}
		next, ok := l.poll()
		if l.pending() {
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
		case <-l.wakec:
		case <-timer.C:
		}
	}
}
