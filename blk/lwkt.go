package blk

import (
	"sync/atomic"

	"damselfly/sched"
	"damselfly/vm"
)

// LWKT threads must block only through the scheduler (docs/lwkt.md): a
// thread that waits on a Go mutex, condition or channel stalls every thread
// of its CPU. vm objects and the block layer wait with Go primitives (range
// locks, page fills, DoBio), so a thread calls them through these helpers:
// the part that cannot block runs in place, the rest on a helper goroutine
// while the thread sleeps in the scheduler.

// Offload runs fn on a helper goroutine while td sleeps (LWKT Sleep, woken
// by WakeupExternal), so blocking work never stalls td's CPU.
func Offload(td *sched.Thread, fn func()) {
	var done atomic.Bool
	sys := td.CPU().System()
	go func() {
		fn()
		done.Store(true)
		sys.WakeupExternal(&done)
	}()
	for !done.Load() {
		td.Sleep(&done, -1, done.Load)
	}
}

// ObjectReadAt is o.ReadAt for an LWKT thread: a range already valid in
// the cache is copied in place without blocking (TryReadCached); anything
// else is offloaded.
func ObjectReadAt(td *sched.Thread, o *vm.Object, p []byte, off int64) (n int, err error) {
	if o.TryReadCached(p, off) {
		return len(p), nil
	}
	Offload(td, func() { n, err = o.ReadAt(p, off) })
	return n, err
}

// ObjectWriteAt is o.WriteAt for an LWKT thread (always offloaded: a write
// may wait for readers, fill partial pages or evict).
func ObjectWriteAt(td *sched.Thread, o *vm.Object, p []byte, off int64) (n int, err error) {
	Offload(td, func() { n, err = o.WriteAt(p, off) })
	return n, err
}

// ObjectSync is o.Sync for an LWKT thread.
func ObjectSync(td *sched.Thread, o *vm.Object) (err error) {
	Offload(td, func() { err = o.Sync() })
	return err
}
