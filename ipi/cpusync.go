package ipi

import "sync/atomic"

// CPU synchronization (DragonFly's lwkt_cpusync): put a set of CPUs into a known quiesced
// state, run a function on all of them, release them.
//
// Protocol for a master on CPU m and targets T (mask without m):
//  1. The master sends each target an IPI that records the request in the target's syncs
//     list and counts an arrival. A target with a pending request stays inside Process,
//     draining its FIFOs but running no thread: it is quiesced.
//  2. The master waits for len(T) arrivals, processing its own incoming FIFOs meanwhile (so
//     two masters whose sets overlap both make progress: each joins the other's request).
//  3. The master runs fn itself if m is in the mask, while every target is quiesced; then it
//     sets released, and each target, on its next poll, runs fn and counts done.
//  4. The master waits for len(T) dones, processing its FIFOs, and returns.
//
// Targets never spin inside an IPI function; they only stay inside Process, so nested and
// concurrent cpusyncs cannot deadlock.

type syncReq struct {
	q        *Queue
	fn       Func
	arg      any
	arrived  atomic.Int32
	released atomic.Bool
	done     atomic.Int32
}

// CPUSync quiesces the CPUs in mask, runs fn(from, arg) on the master if it is in mask while
// all targets are quiesced, then releases the targets, each of which runs fn(cpu, arg). Called by CPU from; returns after every
// target has run fn.
func (q *Queue) CPUSync(from int, mask Mask, fn Func, arg any) {
	q.cpus[from].stats.cpusyncs.Add(1)
	req := &syncReq{q: q, fn: fn, arg: arg}
	targets := mask &^ (1 << from) & AllCPUs(q.ncpu)
	n := int32(targets.Count())
	for cpu := 0; cpu < q.ncpu; cpu++ {
		if targets.Has(cpu) {
			q.Send(from, cpu, joinSync, req)
		}
	}
	for req.arrived.Load() < n {
		if q.poll(from) == 0 {
			q.bell.Relax()
		}
	}
	// Every target is quiesced: the master's own call runs now, before any target's (the
	// page-table pattern: change the entry while nobody runs, then let all invalidate).
	if mask.Has(from) {
		fn(from, arg)
	}
	req.released.Store(true)
	for req.done.Load() < n {
		if q.poll(from) == 0 {
			q.bell.Relax()
		}
	}
}

// joinSync is the IPI function a cpusync target runs: it joins the request and returns;
// the enclosing Process then keeps the CPU quiesced until the request is released.
func joinSync(cpu int, arg any) {
	req := arg.(*syncReq)
	c := &req.q.cpus[cpu]
	c.syncs = append(c.syncs, req)
	req.arrived.Add(1)
}

// serviceSyncs finishes the released requests cpu has joined and returns how many.
func (q *Queue) serviceSyncs(cpu int) int {
	c := &q.cpus[cpu]
	n := 0
	for i := 0; i < len(c.syncs); {
		req := c.syncs[i]
		if !req.released.Load() {
			i++
			continue
		}
		// Remove before running fn: fn may send IPIs and so re-enter Process.
		c.syncs = append(c.syncs[:i], c.syncs[i+1:]...)
		req.fn(cpu, req.arg)
		req.done.Add(1)
		n++
	}
	return n
}
