package ipi

import (
	"damselfly/internal/cpumeter"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkIPIRoundTrip: CPU 0 sends an IPI to CPU 1 whose function sends one back; one op
// is the round trip. Both CPUs poll (IdleSpin) before they would wait on the doorbell.
func BenchmarkIPIRoundTrip(b *testing.B) {
	q := New(2, Options{IdleSpin: 2000})
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // CPU 1: serve until stopped
		defer wg.Done()
		for !stop.Load() {
			q.Process(1)
			q.Idle(1, -1)
		}
	}()
	var back int // written by CPU 0's IPI function only
	pong := func(cpu int, arg any) { back++ }
	ping := func(cpu int, arg any) { q.Send(1, 0, pong, nil) }
	b.ResetTimer()
	cm := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		q.Send(0, 1, ping, nil)
		for back <= i {
			if q.Process(0) == 0 {
				q.Idle(0, -1)
			}
		}
	}
	b.StopTimer()
	cm.Stop()
	stop.Store(true)
	q.Kick(1)
	wg.Wait()
}

// BenchmarkCacheLinePingPong is the machine's floor for any cross-CPU round trip: two
// goroutines, each spinning on one shared word until it holds its turn, with no FIFO, no
// doorbell and no scheduler. IPIRoundTrip with polling CPUs cannot be faster than this;
// ChanRoundTrip, whose two goroutines hand a P to each other on one core, has no such floor.
func BenchmarkCacheLinePingPong(b *testing.B) {
	var turn atomic.Uint64 // odd: the peer's turn; even: ours. ^0 stops the peer.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for want := uint64(1); ; want += 2 {
			for {
				v := turn.Load()
				if v == want {
					break
				}
				if v == ^uint64(0) {
					return
				}
			}
			turn.Store(want + 1)
		}
	}()
	b.ResetTimer()
	cm := cpumeter.Start(b)
	for i := uint64(0); i < uint64(b.N); i++ {
		turn.Store(2*i + 1)
		for turn.Load() != 2*i+2 {
		}
	}
	b.StopTimer()
	cm.Stop()
	turn.Store(^uint64(0))
	<-done
}
