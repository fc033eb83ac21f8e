package sched

import "sync/atomic"

// Offload runs fn on a helper goroutine while the running thread sleeps in the scheduler,
// and returns once fn has returned.
//
// A thread must block only through LWKT primitives (docs/lwkt.md): one that waits on a Go
// mutex, channel or condition stalls every thread of its CPU. Work written for goroutines
// (a filesystem taking sync locks and waiting for disk I/O through a VM object) is therefore
// handed to a goroutine, and the thread waits for it with Sleep; the goroutine wakes it with
// WakeupExternal on the completion word. Other threads of the CPU run meanwhile.
//
// fn's memory effects are visible to the thread when Offload returns: the wakeup travels
// through the IPI queue, and the completion word is atomic.
//
// Offload starts a goroutine per call; a thread that offloads often keeps a Helper instead.
func (td *Thread) Offload(fn func()) {
	td.assertRunning("Offload")
	var done atomic.Bool
	sys := td.sys
	go func() {
		defer func() {
			done.Store(true)
			sys.WakeupExternal(&done)
		}()
		fn()
	}()
	for !done.Load() {
		td.Sleep(&done, -1, done.Load)
	}
}

// Helper is one thread's long-lived offload goroutine: Run hands it a function and sleeps
// until it is done, like Offload, without starting a goroutine per call (whose stack would
// grow again each time for deep call chains such as a filesystem's). A Helper serves one
// thread at a time; Close ends the goroutine.
type Helper struct {
	sys  *System
	work chan func()
	done atomic.Bool
}

// NewHelper starts a helper goroutine for threads of s.
func NewHelper(s *System) *Helper {
	h := &Helper{sys: s, work: make(chan func(), 1)}
	go h.loop()
	return h
}

func (h *Helper) loop() {
	for fn := range h.work {
		fn()
		h.done.Store(true)
		h.sys.WakeupExternal(h)
	}
}

// Run runs fn on the helper goroutine while td sleeps, and returns once fn has returned.
// The send never blocks: the channel holds one function and the helper is idle whenever no
// Run is in progress.
func (h *Helper) Run(td *Thread, fn func()) {
	td.assertRunning("Helper.Run")
	if td.sys != h.sys {
		panic("sched: Helper.Run from a thread of another system")
	}
	h.done.Store(false)
	select {
	case h.work <- fn:
	default:
		panic("sched: Helper.Run while the helper is busy (two threads share it)")
	}
	for !h.done.Load() {
		td.Sleep(h, -1, h.done.Load)
	}
}

// Close ends the helper goroutine. No Run may follow.
func (h *Helper) Close() { close(h.work) }
