package stack

import (
	"sync"
	"time"

	"damselfly/sched"
)

// Deterministic whole-stack tests run the real protocol threads on a fake
// clock and wait for quiescence between steps: run sends a barrier to
// every thread of the given stacks, round after round, until a round in
// which no thread did any work. A barrier is replied at the end of the
// thread's turn (after its inbox and timers), with the thread's work count
// then; work anywhere (a frame in, a message, a frame out) shows up as a
// count that moved in the next round, so an unchanged sum means nothing is
// left in flight.
func run(stacks ...*Stack) {
	last := uint64(0)
	for round := 0; ; round++ {
		sum := uint64(0)
		for _, s := range stacks {
			for _, p := range s.threads {
				m := &barrierMsg{}
				if s.call(p, m) == nil {
					sum += m.work
				}
			}
		}
		if round > 0 && sum == last {
			return
		}
		last = sum
	}
}

type barrierMsg struct {
	sched.Msg
	work uint64
}

func (m *barrierMsg) serve(p *proto, c *sched.CPU) error {
	p.loop.items-- // the barrier is not work
	m.work = p.loop.items + p.ctr.framesOut
	return p.loop.deferToTurnEnd(m)
}

// nextTimer returns the earliest timer of any thread of the stacks.
func nextTimer(stacks ...*Stack) (time.Time, bool) {
	var t time.Time
	ok := false
	for _, s := range stacks {
		for _, p := range s.threads {
			m := &pollMsg{}
			if s.call(p, m) == nil && m.ok && (!ok || m.next.Before(t)) {
				t, ok = m.next, true
			}
		}
	}
	return t, ok
}

type pollMsg struct {
	sched.Msg
	next time.Time
	ok   bool
}

func (m *pollMsg) serve(p *proto, c *sched.CPU) error {
	m.next, m.ok = p.poll()
	return nil
}

// onThread runs fn on protocol thread p and waits (tests only: sockets
// use typed messages).
func onThread(s *Stack, p *proto, fn func()) error {
	return s.call(p, &funcMsg{fn: fn})
}

type funcMsg struct {
	sched.Msg
	fn func()
}

func (m *funcMsg) serve(p *proto, c *sched.CPU) error {
	m.fn()
	return nil
}

// fakeClock is a clock tests move by hand; protocol threads read it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1e6, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }
