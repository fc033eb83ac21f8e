package ipi

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// harness runs one goroutine per CPU: each polls its FIFOs, runs its own work function
// between polls (the analogue of running threads) and idles on the doorbell.
type harness struct {
	q      *Queue
	stop   atomic.Bool
	wg     sync.WaitGroup
	inWork []atomic.Int32 // CPU i is running work (not inside Process/Idle)
	busy   []atomic.Bool  // CPU i's work function has not yet returned false
}

// waitQuiet waits until done() and no CPU has messages pending (twice in a row, since a
// message being run may send more), so that shutdown strands no sender.
func (h *harness) waitQuiet(done func() bool) {
	for quiet := 0; quiet < 2; {
		for i := 0; i < 100; i++ {
			runtime.Gosched()
		}
		quiet++
		if !done() {
			quiet = 0
			continue
		}
		for cpu := 0; cpu < h.q.NCPU(); cpu++ {
			if h.q.Pending(cpu) {
				quiet = 0
			}
		}
	}
}

func newHarness(ncpu, fifo int) *harness {
	h := &harness{q: New(ncpu, Options{FIFOSize: fifo}), inWork: make([]atomic.Int32, ncpu), busy: make([]atomic.Bool, ncpu)}
	for i := range h.busy {
		h.busy[i].Store(true)
	}
	return h
}

// start runs work(cpu) repeatedly on each CPU until it returns false, then keeps serving
// IPIs until stop.
func (h *harness) start(work func(cpu int) bool) {
	for cpu := 0; cpu < h.q.NCPU(); cpu++ {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			busy := true
			for !h.stop.Load() {
				h.q.Process(cpu)
				if busy {
					h.inWork[cpu].Store(1)
					busy = work(cpu)
					h.inWork[cpu].Store(0)
					h.busy[cpu].Store(busy)
					continue
				}
				h.q.Idle(cpu, -1)
			}
		}()
	}
}

func (h *harness) shutdown() {
	h.stop.Store(true)
	for cpu := 0; cpu < h.q.NCPU(); cpu++ {
		h.q.Kick(cpu)
	}
	h.wg.Wait()
}

func TestSendSelfIsDirectCall(t *testing.T) {
	q := New(2, Options{})
	ran := false
	seq := q.Send(1, 1, func(cpu int, arg any) { ran = cpu == 1 && arg.(int) == 7 }, 7)
	if !ran || seq != 0 {
		t.Fatalf("self send: ran=%v seq=%d", ran, seq)
	}
	if s := Total(q.Stats()); s.Sent != 0 {
		t.Fatalf("self send counted as sent: %+v", s)
	}
}

func TestDoorbellAvoidedWhilePolling(t *testing.T) {
	q := New(2, Options{})
	var got []int
	fn := func(cpu int, arg any) { got = append(got, arg.(int)) }
	// CPU 1 is "running" (npoll starts at 1): no doorbell.
	q.Send(0, 1, fn, 1)
	// CPU 1 goes idle with nothing more pending after draining: the next send rings.
	q.Process(1)
	q.Idle(1, 0) // timeout 0: stops polling, checks, does not sleep, polls again
	q.cpus[1].npoll.Store(0)
	q.Send(0, 1, fn, 2)
	q.Send(0, 1, fn, 3) // already rung: avoided
	q.SendPassive(0, 1, fn, 4)
	q.Process(1)
	s := q.Stats()[0]
	if s.Sent != 4 || s.Doorbells != 1 || s.Avoided != 2 || s.Passive != 1 {
		t.Fatalf("counters %+v", s)
	}
	if len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Fatalf("order %v", got)
	}
	if q.Stats()[1].Received != 4 {
		t.Fatalf("received %+v", q.Stats()[1])
	}
}

func TestWaitSeq(t *testing.T) {
	h := newHarness(2, 8)
	var done atomic.Int32
	var waited, finished atomic.Bool
	h.start(func(cpu int) bool {
		if cpu == 0 {
			seq := h.q.Send(0, 1, func(int, any) { done.Add(1) }, nil)
			h.q.WaitSeq(0, 1, seq)
			waited.Store(done.Load() == 1)
			finished.Store(true)
		}
		return false
	})
	for !finished.Load() {
		runtime.Gosched()
	}
	h.shutdown()
	if !waited.Load() {
		t.Fatal("WaitSeq returned before the message ran")
	}
}

// TestStressTinyFIFOs: 8 CPUs with 2-entry FIFOs flood each other, handlers send more
// messages from IPI context; every message arrives once, in per-pair order.
func TestStressTinyFIFOs(t *testing.T) {
	const ncpu, per = 8, 2000
	h := newHarness(ncpu, 2)
	type msg struct {
		from, n int
		hop     bool
	}
	var total atomic.Int64
	// last[to][from] is the last sequence received: owned by CPU to.
	last := make([][]int, ncpu)
	for i := range last {
		last[i] = make([]int, ncpu)
		for j := range last[i] {
			last[i][j] = -1
		}
	}
	var bad atomic.Int32
	var recv Func
	recv = func(cpu int, arg any) {
		m := arg.(*msg)
		total.Add(1)
		if !m.hop {
			if m.n != last[cpu][m.from]+1 {
				bad.Add(1)
			}
			last[cpu][m.from] = m.n
			if m.n%10 == 0 { // reply from IPI context: exercises nested FIFO-full waits
				h.q.Send(cpu, m.from, recv, &msg{from: cpu, hop: true})
			}
		}
	}
	sent := make([]int, ncpu)
	// pairs numbers the messages of each (from, to) pair; each CPU touches only its row.
	var pairs [ncpu][ncpu]int
	pairSeq := func(from, to int) int {
		n := pairs[from][to]
		pairs[from][to]++
		return n
	}
	h.start(func(cpu int) bool {
		r := rand.New(rand.NewPCG(uint64(cpu), 1))
		for i := 0; i < 50 && sent[cpu] < per; i++ {
			to := r.IntN(ncpu)
			if to == cpu {
				to = (to + 1) % ncpu
			}
			// Per-pair sequence: count sends to this target.
			h.q.Send(cpu, to, recv, &msg{from: cpu, n: pairSeq(cpu, to)})
			sent[cpu]++
		}
		return sent[cpu] < per
	})
	h.waitQuiet(func() bool {
		for cpu := range sent {
			if h.busy[cpu].Load() {
				return false
			}
		}
		return true
	})
	h.shutdown()
	// Drain what is left (all CPUs stopped: process each in turn until quiet).
	for again := true; again; {
		again = false
		for cpu := 0; cpu < ncpu; cpu++ {
			if h.q.Process(cpu) > 0 {
				again = true
			}
		}
	}
	if bad.Load() != 0 {
		t.Fatalf("%d messages out of order", bad.Load())
	}
	hops := 0
	for to := range last {
		for from := range last[to] {
			hops += (last[to][from] + 10) / 10
		}
	}
	if got := total.Load(); got != int64(ncpu*per+hops) {
		t.Fatalf("received %d, want %d", got, ncpu*per+hops)
	}
	s := Total(h.q.Stats())
	if s.FIFOFull == 0 {
		t.Fatalf("FIFO-full path not exercised: %+v", s)
	}
	t.Logf("stats %+v", s)
}

// TestCPUSyncUnderLoad: several masters run overlapping cpusyncs while every CPU also
// floods IPIs; while the master's function runs, no target makes progress in its work.
func TestCPUSyncUnderLoad(t *testing.T) {
	const ncpu, rounds = 8, 30
	h := newHarness(ncpu, 4)
	var runs, notQuiet atomic.Int64
	var finished atomic.Int32
	count := make([]int, ncpu)
	ops := make([]atomic.Int64, ncpu) // work steps done by each CPU
	h.start(func(cpu int) bool {
		for i := 0; i < 5; i++ {
			h.q.Send(cpu, (cpu+1+i)%ncpu, func(int, any) {}, nil)
			ops[cpu].Add(1)
		}
		if cpu < 3 { // three masters
			if count[cpu] == rounds {
				return false
			}
			count[cpu]++
			mask := AllCPUs(ncpu) &^ Mask(1<<((cpu+count[cpu])%ncpu))
			h.inWork[cpu].Store(0)
			h.q.CPUSync(cpu, mask, func(c int, _ any) {
				runs.Add(1)
				if c != cpu {
					return
				}
				// Quiesced targets make no progress in their work while we hold them.
				var before [ncpu]int64
				for o := range before {
					before[o] = ops[o].Load()
				}
				for i := 0; i < 20; i++ {
					runtime.Gosched()
				}
				for o := 0; o < ncpu; o++ {
					if o != cpu && mask.Has(o) && ops[o].Load() != before[o] {
						notQuiet.Add(1)
					}
				}
			}, nil)
			if count[cpu] == rounds {
				finished.Add(1)
			}
			return true
		}
		return finished.Load() < 3
	})
	h.waitQuiet(func() bool {
		for cpu := 0; cpu < ncpu; cpu++ {
			if h.busy[cpu].Load() {
				return false
			}
		}
		return true
	})
	h.shutdown()
	if want := int64(3 * rounds * (ncpu - 1)); runs.Load() != want {
		t.Fatalf("fn ran %d times, want %d", runs.Load(), want)
	}
	if notQuiet.Load() != 0 {
		t.Fatalf("%d fn runs saw a target not quiesced", notQuiet.Load())
	}
}

func TestSendExternal(t *testing.T) {
	h := newHarness(2, 4)
	h.start(func(int) bool { return false })
	done := make(chan int, 1)
	h.q.SendExternal(1, func(cpu int, arg any) { done <- cpu + arg.(int) }, 10)
	if v := <-done; v != 11 {
		t.Fatalf("got %d", v)
	}
	h.shutdown()
	if s := h.q.Stats()[1]; s.External != 1 {
		t.Fatalf("external %+v", s)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		ncpu, fifo int
	}{{0, 0}, {65, 0}, {2, 3}, {2, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d, fifo %d) did not panic", tc.ncpu, tc.fifo)
				}
			}()
			New(tc.ncpu, Options{FIFOSize: tc.fifo})
		}()
	}
}

func TestPassiveSelfIsQueued(t *testing.T) {
	q := New(2, Options{})
	ran := 0
	q.SendPassive(0, 0, func(cpu int, arg any) { ran += arg.(int) }, 5)
	if ran != 0 || !q.Pending(0) {
		t.Fatal("passive self send ran at once")
	}
	if n := q.Process(0); n != 1 || ran != 5 {
		t.Fatalf("Process ran %d, total %d", n, ran)
	}
	if s := q.Stats()[0]; s.Passive != 1 || s.Doorbells != 0 {
		t.Fatalf("counters %+v", s)
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want Mask
	}{{1, 1}, {3, 7}, {64, ^Mask(0)}} {
		if got := AllCPUs(tc.n); got != tc.want || got.Count() != tc.n || !got.Has(tc.n-1) || (tc.n < 64 && got.Has(tc.n)) {
			t.Errorf("AllCPUs(%d) = %b", tc.n, got)
		}
	}
}
