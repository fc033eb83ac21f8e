package vnet_test

import (
	"errors"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"damselfly/net/link"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// BenchmarkRx: frames from the simulated device through the interrupt,
// the poll and the receiver, over MMIO with event index and mergeable
// buffers. The device side (the simulator copying into guest memory) is
// part of the cost.
func BenchmarkRx(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(map[int]string{64: "64B", 1514: "1514B"}[size], func(b *testing.B) {
			r := newRig(b, false, vnetsim.Options{}, vnet.Options{})
			var got atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			r.drv.Queue(0).SetReceiver(func(f []byte, _ link.RSS) {
				if got.Add(1) == target {
					close(done)
				}
			})
			f := rawFrame(1, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				r.sim.Inject(f, vnetsim.RxOpts{Queue: 0})
			}
			<-done
			b.StopTimer()
			q := r.drv.Stats().Queues[0]
			b.ReportMetric(float64(q.Interrupts)/float64(b.N), "irq/frame")
			b.ReportMetric(float64(q.RxFrames)/float64(max(q.Polls, 1)), "frames/poll")
		})
	}
}

// BenchmarkTx: Send through the ring to the simulated device's sink.
func BenchmarkTx(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(map[int]string{64: "64B", 1514: "1514B"}[size], func(b *testing.B) {
			r := newRig(b, false, vnetsim.Options{}, vnet.Options{})
			var got atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			r.sim.SetSink(func(int, []byte) {
				if got.Add(1) == target {
					close(done)
				}
			})
			f := rawFrame(1, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			full := 0
			for range b.N {
				for {
					err := r.drv.Send(f)
					if err == nil {
						break
					}
					if !errors.Is(err, vnet.ErrTxFull) {
						b.Fatal(err)
					}
					full++
					runtime.Gosched()
				}
			}
			<-done
			b.StopTimer()
			q := r.drv.Stats().Queues[0]
			b.ReportMetric(float64(q.TxQueue.Notifies)/float64(b.N), "notify/frame")
			b.ReportMetric(float64(full)/float64(b.N), "full/frame")
		})
	}
}

// BenchmarkRxPoll separates the driver from the executor: a batch that
// fits the ring is injected by hand, then polled to completion by hand (no
// goroutine hand-offs). ns/op covers both; driver-ns/frame is the time
// inside Poll alone: used-ring reads, header checks, hand-over, a fresh
// buffer per frame, refill and kick.
func BenchmarkRxPoll(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(map[int]string{64: "64B", 1514: "1514B"}[size], func(b *testing.B) {
			r := newRig(b, false, vnetsim.Options{}, vnet.Options{Schedule: func(int) {}, Budget: 64})
			var got int
			r.drv.Queue(0).SetReceiver(func([]byte, link.RSS) { got++ })
			f := rawFrame(1, size)
			b.SetBytes(int64(size))
			var inPoll, inPollCPU time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(128, b.N-done)
				for range k {
					r.sim.Inject(f, vnetsim.RxOpts{Queue: 0})
				}
				t0, c0 := time.Now(), cpuTime()
				for r.drv.Poll(0) {
				}
				inPoll += time.Since(t0)
				inPollCPU += cpuTime() - c0
				done += k
			}
			b.StopTimer()
			if got != b.N {
				b.Fatalf("received %d of %d", got, b.N)
			}
			b.ReportMetric(float64(inPoll.Nanoseconds())/float64(b.N), "driver-ns/frame")
			b.ReportMetric(float64(inPollCPU.Nanoseconds())/float64(b.N), "driver-cpu-ns/frame")
		})
	}
}

// BenchmarkTxSend: batches that fit the ring, then a wait for the device
// to drain them; driver-ns/frame is the time inside Send alone (reclaim,
// copy behind the header, add, kick).
func BenchmarkTxSend(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(map[int]string{64: "64B", 1514: "1514B"}[size], func(b *testing.B) {
			r := newRig(b, false, vnetsim.Options{}, vnet.Options{})
			var got atomic.Int64
			r.sim.SetSink(func(int, []byte) { got.Add(1) })
			f := rawFrame(1, size)
			b.SetBytes(int64(size))
			var inSend, inSendCPU time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(128, b.N-done)
				t0, c0 := time.Now(), cpuTime()
				for range k {
					if err := r.drv.Send(f); err != nil {
						b.Fatal(err)
					}
				}
				inSend += time.Since(t0)
				inSendCPU += cpuTime() - c0
				done += k
				for got.Load() < int64(done) {
					runtime.Gosched()
				}
			}
			b.ReportMetric(float64(inSend.Nanoseconds())/float64(b.N), "driver-ns/frame")
			b.ReportMetric(float64(inSendCPU.Nanoseconds())/float64(b.N), "driver-cpu-ns/frame")
		})
	}
}

// cpuTime is the process's user+system CPU time. On a shared, overloaded
// machine wall-clock spans include time the process was not running; CPU
// time does not (it does include other goroutines of the process, such as
// the simulated device, running in parallel).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
