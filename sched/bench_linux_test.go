//go:build linux

package sched

import (
	"damselfly/internal/cpumeter"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

// pinThread locks the calling goroutine to its OS thread and that thread to CPU cpu. The
// goroutine must end without unlocking, so that the runtime discards the pinned thread
// instead of reusing it.
func pinThread(cpu int) error {
	runtime.LockOSThread()
	var mask [16]uint64 // a cpu_set_t of 1024 CPUs
	mask[cpu/64] = 1 << (cpu % 64)
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask))); e != 0 {
		return e
	}
	return nil
}

// BenchmarkChanRoundTripCrossCore is the channel ping-pong with each goroutine locked to a
// thread pinned to its own core: what a Go program pays for "a goroutine that belongs to a
// CPU" with channels, the design LWKT's per-CPU threads and IPI messages replace. It is an
// extra comparison for the cross-CPU benchmarks (DoMsgCrossCPU, IPIRoundTrip), whose
// required baseline stays BenchmarkChanRoundTrip (docs/lwkt.md).
func BenchmarkChanRoundTripCrossCore(b *testing.B) {
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs two cores and GOMAXPROCS >= 2")
	}
	ping, pong := make(chan int), make(chan int)
	errc := make(chan error, 2)
	go func() {
		if err := pinThread(1); err != nil {
			errc <- err
			return
		}
		errc <- nil
		for v := range ping {
			pong <- v + 1
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ping) // ends the peer, whatever happens here
		if err := pinThread(0); err != nil {
			errc <- err
			return
		}
		if err := <-errc; err != nil {
			errc <- err
			return
		}
		b.ResetTimer()
		cm := cpumeter.Start(b)
		for i := 0; i < b.N; i++ {
			ping <- i
			if v := <-pong; v != i+1 {
				b.Errorf("round trip %d came back as %d", i, v)
				break
			}
		}
		b.StopTimer()
		cm.Stop()
	}()
	<-done
	select {
	case err := <-errc:
		b.Skipf("cannot pin a thread to a core here: %v", err)
	default:
	}
}
