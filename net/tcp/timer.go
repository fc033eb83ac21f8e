package tcp

import (
	"container/heap"
	"time"
)

// Timers. The package owns no goroutines and never sleeps: every timer is
// an entry in the Stack's min-heap, keyed by its deadline. The protocol
// thread asks NextDeadline, waits on its own clock until then (or until a
// packet arrives), and calls Advance, which runs every timer that is due at
// Config.Now. Resetting a timer fixes its heap position in place, so a
// connection that re-arms its RTO on every ACK does not grow the heap.

// timer is one of a connection's timers. idx is its heap position, -1
// when stopped. Timers live inside their Conn (Conn.timers), so opening a
// connection allocates no timer objects.
type timer struct {
	when time.Time
	idx  int
	c    *Conn
	kind timerKind
}

type timerKind uint8

const (
	timerRTO       timerKind = iota // retransmission, SYN retransmission, loss probe
	timerPersist                    // zero-window probe / SWS override
	timerDelACK                     // delayed ACK
	timerKeepalive                  // keepalive
	timerLife                       // TIME-WAIT, orphaned FIN-WAIT-2
	timerRACK                       // RACK reordering timer (rack.go)
	numTimers
)

func (t *timer) fire() {
	switch t.kind {
	case timerRTO:
		t.c.onRTO()
	case timerPersist:
		t.c.onPersist()
	case timerDelACK:
		t.c.onDelayedACK()
	case timerKeepalive:
		t.c.onKeepalive()
	case timerLife:
		t.c.onLifeTimer()
	case timerRACK:
		t.c.onRACKTimer()
	}
}

// armed reports whether t is pending.
func (t *timer) armed() bool { return t.idx >= 0 }

// timerHeap orders timers by deadline.
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

// setTimer arms t to fire at when, moving it if already armed.
func (s *Stack) setTimer(t *timer, when time.Time) {
	t.when = when
	if t.idx >= 0 {
		heap.Fix(&s.timers, t.idx)
		return
	}
	heap.Push(&s.timers, t)
}

// resetTimer arms t to fire d from now.
func (s *Stack) resetTimer(t *timer, d time.Duration) {
	s.setTimer(t, s.now.Add(d))
}

// stopTimer disarms t; stopping a stopped timer is a no-op.
func (s *Stack) stopTimer(t *timer) {
	if t.idx >= 0 {
		heap.Remove(&s.timers, t.idx)
	}
}

// NextDeadline returns the earliest pending timer, if any.
func (s *Stack) NextDeadline() (time.Time, bool) {
	if len(s.timers) == 0 {
		return time.Time{}, false
	}
	return s.timers[0].when, true
}

// Advance runs every timer due at Config.Now, earliest first. Timers re-arm
// relative to the same instant, so a long clock jump runs each timer once
// rather than replaying every period that was missed.
func (s *Stack) Advance() {
	s.now = s.cfg.Now()
	for len(s.timers) > 0 && !s.timers[0].when.After(s.now) {
		t := heap.Pop(&s.timers).(*timer)
		t.fire()
	}
	s.flush()
}
