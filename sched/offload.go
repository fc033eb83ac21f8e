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
