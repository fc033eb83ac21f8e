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
