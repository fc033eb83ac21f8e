package stack

import (
	"time"
)

// manualLoops runs protocol threads on the test goroutine: Post queues,
// Do runs inline, and run drains everything. With a fake clock this makes
// whole-stack scenarios deterministic.
type manualLoops struct {
	loops []*manualLoop
}

type manualLoop struct {
	q    []func()
	poll Poll
}

func (m *manualLoops) factory(cpu int, poll Poll) Loop {
	l := &manualLoop{poll: poll}
	m.loops = append(m.loops, l)
	return l
}

func (l *manualLoop) Post(fn func())    { l.q = append(l.q, fn) }
func (l *manualLoop) Do(fn func()) bool { fn(); return true }
func (l *manualLoop) Stop()             {}

// run drains every queue until all are empty.
func (m *manualLoops) run() {
	for busy := true; busy; {
		busy = false
		for _, l := range m.loops {
			for len(l.q) > 0 {
				busy = true
				fn := l.q[0]
				l.q = l.q[1:]
				fn()
			}
			l.poll()
		}
		// A poll may have queued work for a loop already visited.
		for _, l := range m.loops {
			busy = busy || len(l.q) > 0
		}
	}
}

// next returns the earliest timer of any loop.
func (m *manualLoops) next() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, l := range m.loops {
		if d, has := l.poll(); has && (!ok || d.Before(t)) {
			t, ok = d, true
		}
	}
	return t, ok
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }
