package stack

import (
	"testing"
	"time"
)

func TestGoLoopOrderTimerStop(t *testing.T) {
	fired := make(chan struct{}, 1)
	var due time.Time
	var l Loop
	l = GoLoops(0, func() (time.Time, bool) {
		if !due.IsZero() && !time.Now().Before(due) {
			due = time.Time{}
			fired <- struct{}{}
		}
		return due, !due.IsZero()
	})
	var order []int
	for i := 0; i < 100; i++ {
		l.Post(func() { order = append(order, i) })
	}
	var n int
	if !l.Do(func() { n = len(order) }) || n != 100 {
		t.Fatalf("Do saw %d posted functions, want all 100 before it", n)
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("posted functions ran out of order at %d", i)
		}
	}
	// A timer requested from the thread wakes it without any message.
	l.Do(func() { due = time.Now().Add(time.Millisecond) })
	<-fired
	l.Stop()
	if l.Do(func() {}) {
		t.Fatal("Do ran on a stopped loop")
	}
	l.Post(func() { t.Error("posted function ran after Stop") })
}
