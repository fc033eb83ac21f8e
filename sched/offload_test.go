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

// TestHelper: the same through a long-lived helper, many times over, from two threads of
// one CPU each with its own helper.
func TestHelper(t *testing.T) {
	s := NewSystem(1, Options{})
	s.Start()
	defer s.Stop()
	var mu sync.Mutex
	total := 0
	var tds []*Thread
	for i := 0; i < 2; i++ {
		h := NewHelper(s)
		tds = append(tds, s.GoExternal(0, ThreadOpts{}, func(td *Thread) {
			defer h.Close()
			for j := 0; j < 100; j++ {
				h.Run(td, func() {
					mu.Lock()
					total++
					mu.Unlock()
				})
			}
		}))
	}
	for _, td := range tds {
		<-td.Done()
	}
	if total != 200 {
		t.Fatalf("ran %d functions, want 200", total)
	}
}
