package vnet_test

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

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
