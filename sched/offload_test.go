package sched

import (
	"sync"
	"testing"
)

// TestOffload: a thread whose work blocks on a Go mutex offloads it; the other thread of
// the same CPU keeps running meanwhile (it is the one that releases the mutex).
func TestOffload(t *testing.T) {
	s := NewSystem(1, Options{})
	s.Start()
	defer s.Stop()
	var mu sync.Mutex
	mu.Lock()
	got := 0
	waiter := s.GoExternal(0, ThreadOpts{Name: "waiter"}, func(td *Thread) {
		td.Offload(func() {
			mu.Lock() // blocks the helper goroutine, not CPU 0
			got = 42
			mu.Unlock()
		})
		if got != 42 {
			t.Errorf("after Offload got %d", got)
		}
	})
	s.Run(0, ThreadOpts{Name: "releaser"}, func(td *Thread) {
		td.Yield()
		mu.Unlock()
	})
	<-waiter.Done()
}
