package ipi

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// MaxCPUs is the largest system a Queue supports (a Mask is one 64-bit word).
const MaxCPUs = 64

// DefaultFIFOSize is the number of entries per FIFO, as in DragonFly (MAXCPUFIFO).
const DefaultFIFOSize = 256

// Options configures a Queue. The zero value is usable.
type Options struct {
	// FIFOSize is the entries per (source, target) FIFO: a power of two >= 2. Tests use tiny
	// FIFOs to exercise the FIFO-full path. Default DefaultFIFOSize.
	FIFOSize int
	// Doorbell wakes idle CPUs. Default: a HostDoorbell.
	Doorbell Doorbell
	// IdleSpin is how many polling turns Idle makes (keeping the doorbell suppressed) before
	// it stops polling and waits on the doorbell. Default 0: wait at once.
	IdleSpin int
}

// Queue is the IPI system of one machine: the FIFO matrix, the per-CPU poll words and the
// counters. Construct with New; methods taking a cpu argument named from/cpu must be called
// by that CPU (its scheduler or one of its threads).
type Queue struct {
	ncpu int
	bell Doorbell
	spin int
	// spinYield is a mask of the Idle turns after which a polling CPU yields its core:
	// every 64th while each CPU can have a core of its own (GOMAXPROCS >= CPUs, the guest's
	// case), every turn when CPUs outnumber cores and a polling CPU only delays the one it
	// waits for.
	spinYield int
	fifos     [][]*fifo // fifos[from][to]
	cpus      []cpuState
}

// cpuState is the per-CPU part of a Queue. Its fields are grouped by who writes them, each
// group on its own cache lines: a line that one CPU writes and another polls moves between
// them on every write.
type cpuState struct {
	_ cacheLinePad
	// npoll is 1 while the CPU polls its FIFOs (running, or a doorbell already rung) and 0
	// while it waits on the doorbell. A sender that swaps it from 0 to 1 rings the doorbell.
	// Senders read it on every send; it is written only when the CPU goes idle or is rung.
	npoll atomic.Uint32
	// extLen is the length of ext, read by the CPU on every poll so that it can skip extMu
	// when ext is empty; written by external senders, which are rare.
	extLen atomic.Int32
	_      cacheLinePad

	// ext is the queue for senders that are not CPUs (host goroutines, device emulation).
	// extMu guards it.
	extMu sync.Mutex
	ext   []entry
	_     cacheLinePad

	// Written only by this CPU from here on.

	// extSpare is the slice drain ran last, emptied, handed back as ext at the next take:
	// the two alternate, so a steady stream of external sends allocates nothing. Only the
	// CPU touches it (nil while a nested drain holds it).
	extSpare []entry
	// depth counts nested Process calls.
	depth int
	// syncs are the cpusync requests this CPU has joined and not yet finished; while any
	// remain, Process does not return (the CPU is quiesced).
	syncs []*syncReq

	stats cpuCounters
	_     cacheLinePad
}

// cpuCounters are written by their CPU (atomically, so that Stats may read them any time).
type cpuCounters struct {
	sent, received, doorbells, avoided, fifoFull, passive, external, cpusyncs atomic.Uint64
}

// CPUStats is a snapshot of one CPU's IPI counters.
type CPUStats struct {
	Sent      uint64 // messages this CPU queued for other CPUs (passive ones included)
	Received  uint64 // messages this CPU ran from its FIFOs and external queue
	Doorbells uint64 // doorbells this CPU rang
	Avoided   uint64 // sends that needed no doorbell because the target was polling
	FIFOFull  uint64 // sends that had to wait for room
	Passive   uint64 // passive sends
	External  uint64 // messages received from non-CPU senders
	CPUSyncs  uint64 // cpusync operations this CPU mastered
}

// New returns the IPI system for ncpu CPUs.
func New(ncpu int, opts Options) *Queue {
	if ncpu < 1 || ncpu > MaxCPUs {
		panic(fmt.Sprintf("ipi: %d CPUs, want 1..%d", ncpu, MaxCPUs))
	}
	size := opts.FIFOSize
	if size == 0 {
		size = DefaultFIFOSize
	}
	if size < 2 || size&(size-1) != 0 {
		panic(fmt.Sprintf("ipi: FIFO size %d is not a power of two >= 2", size))
	}
	q := &Queue{ncpu: ncpu, bell: opts.Doorbell, spin: opts.IdleSpin, spinYield: 63}
	if runtime.GOMAXPROCS(0) < ncpu {
		q.spinYield = 0
	}
	if q.bell == nil {
		q.bell = NewHostDoorbell(ncpu)
	}
	q.fifos = make([][]*fifo, ncpu)
	for i := range q.fifos {
		q.fifos[i] = make([]*fifo, ncpu)
		for j := range q.fifos[i] {
			q.fifos[i][j] = newFIFO(size)
		}
	}
	q.cpus = make([]cpuState, ncpu)
	for i := range q.cpus {
		q.cpus[i].npoll.Store(1) // a CPU starts out running
	}
	return q
}

// NCPU returns the number of CPUs.
func (q *Queue) NCPU() int { return q.ncpu }

// Doorbell returns the doorbell the Queue rings.
func (q *Queue) Doorbell() Doorbell { return q.bell }

// Send runs fn(to, arg) on CPU to. Called by CPU from. If from == to it is a direct call.
// It returns the entry's sequence number in the (from, to) FIFO for WaitSeq (0 for a direct
// call, which has already completed). If the FIFO is at least half full, Send processes
// from's incoming FIFOs until there is room; it never blocks the CPU otherwise.
func (q *Queue) Send(from, to int, fn Func, arg any) uint64 {
	if from == to {
		fn(to, arg)
		return 0
	}
	seq := q.enqueue(from, to, fn, arg)
	q.kick(from, to)
	return seq
}

// SendPassive queues fn(to, arg) on CPU to without ringing its doorbell: the target runs it
// at its next scheduling point or when something else wakes it. A passive send to yourself
// is queued too (it runs at the CPU's next scheduling point), unlike Send.
func (q *Queue) SendPassive(from, to int, fn Func, arg any) uint64 {
	seq := q.enqueue(from, to, fn, arg)
	q.cpus[from].stats.passive.Add(1)
	return seq
}

func (q *Queue) enqueue(from, to int, fn Func, arg any) uint64 {
	f := q.fifos[from][to]
	if f.halfFull() {
		q.cpus[from].stats.fifoFull.Add(1)
		for f.halfFull() {
			// Deadlock avoidance: whoever we wait for may itself be waiting for room in
			// one of our incoming FIFOs.
			q.Process(from)
			if f.halfFull() {
				q.bell.Relax()
			}
		}
	}
	q.cpus[from].stats.sent.Add(1)
	return f.put(fn, arg)
}

// kick rings to's doorbell unless it is polling.
func (q *Queue) kick(from, to int) {
	// Load first: while the target polls, npoll stays 1 and its line stays shared by both
	// CPUs; a CAS would take the line from the target on every send.
	if q.cpus[to].npoll.Load() == 0 && q.cpus[to].npoll.CompareAndSwap(0, 1) {
		q.cpus[from].stats.doorbells.Add(1)
		q.bell.Ring(to)
		return
	}
	q.cpus[from].stats.avoided.Add(1)
}

// Kick wakes cpu for an event that is not a FIFO entry (a clock that moved, a stop
// request). It rings unconditionally: the CPU may be between its last look at that event
// and its wait, where the npoll protocol (which covers only FIFO entries) would not save
// it. Any goroutine may call it.
func (q *Queue) Kick(cpu int) {
	q.cpus[cpu].npoll.Store(1)
	q.bell.Ring(cpu)
}

// SendExternal runs fn(to, arg) on CPU to, for a sender that is not one of the CPUs (a host
// goroutine, or device emulation in tests). It takes a lock and may allocate.
func (q *Queue) SendExternal(to int, fn Func, arg any) {
	c := &q.cpus[to]
	c.extMu.Lock()
	c.ext = append(c.ext, entry{fn: fn, arg: arg})
	c.extLen.Add(1)
	c.extMu.Unlock()
	if c.npoll.CompareAndSwap(0, 1) {
		q.bell.Ring(to)
	}
}

// WaitSeq waits until the entry with sequence number seq sent by from to to has run,
// processing from's incoming FIFOs meanwhile. Called by CPU from.
func (q *Queue) WaitSeq(from, to int, seq uint64) {
	if from == to || seq == 0 {
		return
	}
	f := q.fifos[from][to]
	for f.xindex.Load() < seq {
		q.Process(from)
		if f.xindex.Load() < seq {
			q.bell.Relax()
		}
	}
}

// Pending reports whether cpu has messages waiting. Any goroutine may call it.
func (q *Queue) Pending(cpu int) bool {
	if q.cpus[cpu].extLen.Load() != 0 {
		return true
	}
	for from := 0; from < q.ncpu; from++ {
		if !q.fifos[from][cpu].empty() {
			return true
		}
	}
	return false
}

// InProcess reports whether cpu is running IPI functions (possibly inside a thread's FIFO-full
// wait). Called by cpu; the scheduler uses it to refuse preemption from IPI context.
func (q *Queue) InProcess(cpu int) bool { return q.cpus[cpu].depth > 0 }

// Process runs the messages waiting for cpu and returns how many ran. Called by cpu, at
// every scheduling point. While cpu takes part in a cpusync that has not been released,
// Process keeps polling and does not return: that is the quiesced state.
func (q *Queue) Process(cpu int) int {
	c := &q.cpus[cpu]
	c.depth++
	n := 0
	for {
		d := q.drain(cpu)
		if d != 0 {
			c.stats.received.Add(uint64(d))
		}
		n += d
		if len(c.syncs) == 0 {
			break
		}
		if q.serviceSyncs(cpu) == 0 && d == 0 {
			q.bell.Relax()
		}
	}
	c.depth--
	return n
}

// poll runs cpu's waiting messages and finishes its released cpusync requests once, without
// staying quiesced. Only a cpusync master's waits use it: a master must keep coming back to
// check its own request, or two masters that joined each other's requests would wait for
// each other. (A master waiting is not running other code, so it counts as quiesced for the
// requests it joined, as in DragonFly.) Every other wait stays quiesced via Process.
func (q *Queue) poll(cpu int) int {
	c := &q.cpus[cpu]
	c.depth++
	n := q.drain(cpu)
	if n != 0 {
		c.stats.received.Add(uint64(n))
	}
	if len(c.syncs) != 0 {
		n += q.serviceSyncs(cpu)
	}
	c.depth--
	return n
}

// drain empties cpu's incoming FIFOs and external queue once.
func (q *Queue) drain(cpu int) int {
	n := 0
	for from := 0; from < q.ncpu; from++ {
		f := q.fifos[from][cpu]
		for {
			e, seq, ok := f.take()
			if !ok {
				break
			}
			e.fn(cpu, e.arg)
			f.finish(seq)
			n++
		}
	}
	c := &q.cpus[cpu]
	if c.extLen.Load() != 0 {
		c.extMu.Lock()
		ext := c.ext
		c.ext, c.extSpare = c.extSpare, nil
		c.extLen.Store(0)
		c.extMu.Unlock()
		for _, e := range ext {
			e.fn(cpu, e.arg)
		}
		n += len(ext)
		c.stats.external.Add(uint64(len(ext)))
		if c.extSpare == nil {
			clear(ext) // drop the references for the collector
			c.extSpare = ext[:0]
		}
	}
	return n
}

// Idle is called by cpu when it has nothing to run. It polls up to IdleSpin turns, then
// stops polling (so senders ring), checks once more and waits on the doorbell for at most
// timeout (< 0: no limit). It returns when there may be work; the caller then calls Process.
func (q *Queue) Idle(cpu int, timeout time.Duration) {
	c := &q.cpus[cpu]
	for i := 0; i < q.spin; i++ {
		if q.Pending(cpu) {
			return
		}
		// Poll hard (the point of spinning is a fast reaction), but let others run now
		// and then (see spinYield).
		if i&q.spinYield == q.spinYield {
			q.bell.Relax()
		}
	}
	c.npoll.Store(0)
	// A sender that published before this point is seen by Pending; one that publishes
	// after it finds npoll == 0 and rings (sequentially consistent atomics on both sides).
	if q.Pending(cpu) || timeout == 0 {
		c.npoll.Store(1)
		return
	}
	q.bell.Wait(cpu, timeout)
	c.npoll.Store(1)
}

// Stats returns a snapshot of every CPU's counters. Any goroutine may call it.
func (q *Queue) Stats() []CPUStats {
	out := make([]CPUStats, q.ncpu)
	for i := range q.cpus {
		s := &q.cpus[i].stats
		out[i] = CPUStats{
			Sent: s.sent.Load(), Received: s.received.Load(), Doorbells: s.doorbells.Load(),
			Avoided: s.avoided.Load(), FIFOFull: s.fifoFull.Load(), Passive: s.passive.Load(),
			External: s.external.Load(), CPUSyncs: s.cpusyncs.Load(),
		}
	}
	return out
}

// Total sums per-CPU counters.
func Total(s []CPUStats) CPUStats {
	var t CPUStats
	for _, c := range s {
		t.Sent += c.Sent
		t.Received += c.Received
		t.Doorbells += c.Doorbells
		t.Avoided += c.Avoided
		t.FIFOFull += c.FIFOFull
		t.Passive += c.Passive
		t.External += c.External
		t.CPUSyncs += c.CPUSyncs
	}
	return t
}

// Mask is a set of CPUs, bit i for CPU i.
type Mask uint64

// AllCPUs returns the mask of CPUs 0..n-1.
func AllCPUs(n int) Mask {
	if n >= 64 {
		return ^Mask(0)
	}
	return Mask(1)<<n - 1
}

// Has reports whether cpu is in m.
func (m Mask) Has(cpu int) bool { return m&(1<<cpu) != 0 }

// Count returns the number of CPUs in m.
func (m Mask) Count() int { return bits.OnesCount64(uint64(m)) }
