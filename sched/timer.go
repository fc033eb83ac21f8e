package sched

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Per-CPU timers (DragonFly's callouts/systimers, simplified): each CPU keeps a min-heap of
// deadlines on the system clock and runs the functions that are due between threads, in
// the scheduler loop (or in a thread's Poll). Timer functions run in CPU context: like IPI
// functions they must not block, and they may Schedule, SendMsg, ReplyMsg and Wakeup.
// The clock is injectable: tests and the TCP code use a ManualClock and advance it.

// ErrTimeout is returned by waits that gave up.
var ErrTimeout = errors.New("sched: timed out")

// Clock is the system's time source: a monotonic reading since some origin.
type Clock interface {
	Now() time.Duration
}

// clockNotifier is implemented by clocks that move only when told (ManualClock); a System
// registers a hook that kicks every CPU when such a clock moves.
type clockNotifier interface {
	notify(func())
}

// MonotonicClock reads the host's monotonic clock.
type MonotonicClock struct{ start time.Time }

// NewMonotonicClock returns a clock reading 0 now.
func NewMonotonicClock() *MonotonicClock { return &MonotonicClock{start: time.Now()} }

// Now implements Clock.
func (m *MonotonicClock) Now() time.Duration { return time.Since(m.start) }

// ManualClock moves only when Advance or Set is called (tests, simulations).
type ManualClock struct {
	now   atomic.Int64
	mu    sync.Mutex // guards hooks
	hooks []func()
}

// NewManualClock returns a manual clock reading 0.
func NewManualClock() *ManualClock { return &ManualClock{} }

// Now implements Clock.
func (m *ManualClock) Now() time.Duration { return time.Duration(m.now.Load()) }

// Advance moves the clock forward by d and kicks the CPUs of the systems using it.
func (m *ManualClock) Advance(d time.Duration) {
	m.now.Add(int64(d))
	m.fire()
}

// Set moves the clock to t (never backwards) and kicks the CPUs.
func (m *ManualClock) Set(t time.Duration) {
	for {
		old := m.now.Load()
		if int64(t) <= old || m.now.CompareAndSwap(old, int64(t)) {
			break
		}
	}
	m.fire()
}

func (m *ManualClock) fire() {
	m.mu.Lock()
	hooks := m.hooks
	m.mu.Unlock()
	for _, h := range hooks {
		h()
	}
}

func (m *ManualClock) notify(h func()) {
	m.mu.Lock()
	m.hooks = append(m.hooks, h)
	m.mu.Unlock()
}

// Timer is a pending call of a function at a deadline on one CPU. Its methods must be
// called from that CPU's context.
type Timer struct {
	c    *CPU
	when time.Duration
	fn   func(c *CPU)
	// td is set (and fn nil) in a thread's own sleep timer: firing schedules td. Every
	// timed wait of a thread reuses that one timer, so a wait allocates nothing.
	td  *Thread
	idx int // position in the heap, -1 when not pending
}

// Now returns the system clock's reading.
func (c *CPU) Now() time.Duration { return c.sys.clock.Now() }

// At calls fn on CPU c at clock time when. Called from c's context.
func (c *CPU) At(when time.Duration, fn func(c *CPU)) *Timer {
	t := &Timer{c: c, when: when, fn: fn, idx: -1}
	c.timers.push(t)
	return t
}

// AfterFunc calls fn on CPU c after d. Called from c's context.
func (c *CPU) AfterFunc(d time.Duration, fn func(c *CPU)) *Timer {
	return c.At(c.Now()+d, fn)
}

// Stop cancels t, reporting whether it was still pending.
func (t *Timer) Stop() bool {
	if t.idx < 0 {
		return false
	}
	t.c.timers.remove(t)
	return true
}

// Reset re-arms t for clock time when (pending or not), reporting whether it was pending.
func (t *Timer) Reset(when time.Duration) bool {
	was := t.Stop()
	t.when = when
	t.c.timers.push(t)
	return was
}

// Pending reports whether t has not fired or been stopped.
func (t *Timer) Pending() bool { return t.idx >= 0 }

// runTimers runs c's due timers. It returns the clock reading it judged them by, or -1
// if it had no timers and read no clock.
func (c *CPU) runTimers() time.Duration {
	if c.timers.len() == 0 {
		return -1
	}
	now := c.sys.clock.Now()
	c.softDepth++
	for c.timers.len() > 0 && c.timers.min().when <= now {
		t := c.timers.min()
		c.timers.remove(t)
		c.stats.timersRun.Add(1)
		if t.td != nil {
			c.scheduleLocal(t.td)
		} else {
			t.fn(c)
		}
	}
	c.softDepth--
	return now
}

// SleepUntil blocks the running thread until clock time deadline.
func (td *Thread) SleepUntil(deadline time.Duration) {
	td.assertRunning("SleepUntil")
	for {
		now := td.cpu.Load().Now()
		if now >= deadline {
			return
		}
		td.Deschedule()
		td.sleepUntil(deadline, now)
	}
}

// SleepFor blocks the running thread for d.
func (td *Thread) SleepFor(d time.Duration) {
	td.SleepUntil(td.assertRunning("SleepFor").Now() + d)
}

// sleepUntil switches out a thread that has descheduled itself, with its sleep timer set to
// schedule it at deadline. now is the caller's fresh clock reading (< 0: none, read it).
// It reports false if the deadline had passed before the switch or the timer fired while
// the thread was out: whether the deadline passed is read from the timer, not the clock,
// so a timed wait costs one clock read, the caller's.
func (td *Thread) sleepUntil(deadline, now time.Duration) bool {
	c := td.cpu.Load()
	if now < 0 {
		now = c.Now()
	}
	if now >= deadline {
		c.enqueue(td)
		return false
	}
	t := &td.sleepTimer
	if t.idx >= 0 {
		panic(fmt.Sprintf("sched: thread %q: sleep timer armed twice", td.name))
	}
	t.c, t.when, t.td = c, deadline, td
	c.timers.push(t)
	td.switchOut()
	// A pending timer is still in its CPU's heap: the thread was woken before the deadline.
	return t.Stop()
}

// timerHeap is a binary min-heap of timers by deadline.
type timerHeap struct{ h []*Timer }

func (h *timerHeap) len() int           { return len(h.h) }
func (h *timerHeap) min() *Timer        { return h.h[0] }
func (h *timerHeap) less(i, j int) bool { return h.h[i].when < h.h[j].when }

func (h *timerHeap) swap(i, j int) {
	h.h[i], h.h[j] = h.h[j], h.h[i]
	h.h[i].idx = i
	h.h[j].idx = j
}

func (h *timerHeap) push(t *Timer) {
	t.idx = len(h.h)
	h.h = append(h.h, t)
	h.up(t.idx)
}

func (h *timerHeap) remove(t *Timer) {
	i := t.idx
	last := len(h.h) - 1
	if i != last {
		h.swap(i, last)
	}
	h.h[last] = nil
	h.h = h.h[:last]
	t.idx = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h *timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *timerHeap) down(i int) {
	n := len(h.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}
