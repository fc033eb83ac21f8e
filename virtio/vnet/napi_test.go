package vnet_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"damselfly/virtio/virtiosim"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// With a manual executor the interrupt/poll sequence is deterministic: a
// burst raises one interrupt, the polls run with the interrupt off, and
// only after the last round re-enables does the next frame interrupt.
func TestNAPISuppression(t *testing.T) {
	for _, ev := range []bool{true, false} {
		t.Run(fmt.Sprintf("eventidx=%v", ev), func(t *testing.T) {
			var scheduled atomic.Int32
			r := newRig(t, false, vnetsim.Options{NoEventIdx: !ev},
				vnet.Options{Budget: 16, Schedule: func(int) { scheduled.Add(1) }})
			const burst = 100
			for i := range burst {
				r.sim.Inject(rawFrame(i, 100), vnetsim.RxOpts{Queue: 0})
			}
			st := r.drv.Stats()
			if st.Interrupts != 1 || scheduled.Load() != 1 || st.Queues[0].Interrupts != 1 {
				t.Fatalf("burst raised %d interrupts, %d polls scheduled", st.Interrupts, scheduled.Load())
			}
			rounds := 0
			for more := true; more; rounds++ {
				more = r.drv.Poll(0)
			}
			if rounds != (burst+15)/16 {
				t.Fatalf("%d rounds for %d frames with budget 16", rounds, burst)
			}
			for i := range burst {
				x := r.recv(t)
				if binary.BigEndian.Uint32(x.f[14:]) != uint32(i) {
					t.Fatalf("frame %d out of order", i)
				}
			}
			q := r.drv.Stats().Queues[0]
			if q.BudgetExhausted != uint64(rounds-1) || q.MaxPerPoll != 16 || q.FramesPerPoll[5] != uint64(rounds-1) {
				t.Fatalf("poll stats %+v", q)
			}
			// Interrupts are back on: the next frame interrupts once.
			r.sim.Inject(rawFrame(burst, 100), vnetsim.RxOpts{Queue: 0})
			if scheduled.Load() != 2 || r.drv.Stats().Interrupts != 2 {
				t.Fatalf("after re-enable: %d scheduled, %d interrupts", scheduled.Load(), r.drv.Stats().Interrupts)
			}
			// An interrupt while the poll is scheduled is remembered: the
			// poll that would finish runs once more instead.
			r.drv.Interrupt()
			if r.drv.Poll(0) != true {
				t.Fatal("missed interrupt not honoured")
			}
			if r.drv.Poll(0) != false {
				t.Fatal("poll did not complete")
			}
			r.recv(t)
			q = r.drv.Stats().Queues[0]
			if q.IrqWhilePolling != 1 || q.Repolls != 1 {
				t.Fatalf("stats %+v", q)
			}
			if scheduled.Load() != 2 {
				t.Fatal("spurious schedule")
			}
		})
	}
}

// Many producers against the default executor with a tiny budget: every
// frame arrives, so no wake-up is lost between re-enabling and going idle.
func TestNAPIStress(t *testing.T) {
	for _, ev := range []bool{true, false} {
		t.Run(fmt.Sprintf("eventidx=%v", ev), func(t *testing.T) {
			r := newRig(t, false, vnetsim.Options{NoEventIdx: !ev}, vnet.Options{Budget: 3, QueueSize: 16})
			const producers, each = 4, 1500
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						r.sim.Inject(rawFrame(p*each+i, 64), vnetsim.RxOpts{Queue: 0})
					}
				}()
			}
			seen := make([]bool, producers*each)
			for range producers * each {
				x := r.recv(t)
				seen[binary.BigEndian.Uint32(x.f[14:])] = true
			}
			wg.Wait()
			for i, ok := range seen {
				if !ok {
					t.Fatalf("frame %d lost", i)
				}
			}
			q := r.drv.Stats().Queues[0]
			t.Logf("interrupts %d (+%d while polling), polls %d, frames/poll hist %v",
				q.Interrupts, q.IrqWhilePolling, q.Polls, q.FramesPerPoll)
		})
	}
}

// A lying device: every malformed frame is dropped and counted, and the
// frames after it still arrive intact.
func TestHostileDevice(t *testing.T) {
	type mangle func(hdr []byte, lens []uint32)
	put16 := func(off int, v uint16) mangle {
		return func(h []byte, _ []uint32) { binary.LittleEndian.PutUint16(h[off:], v) }
	}
	cases := []struct {
		name    string
		m       mangle
		drop    string
		swallow int // good frames the bad one absorbs as continuation buffers
		bufSize int
	}{
		{"short-header", func(_ []byte, l []uint32) { l[0] = 5 }, "rx_short_header", 0, 0},
		{"zero-length", func(_ []byte, l []uint32) { l[0] = 0 }, "rx_short_header", 0, 0},
		{"runt", func(_ []byte, l []uint32) { l[0] = 12 + 10 }, "rx_runt", 0, 0},
		{"num-buffers-0", put16(10, 0), "rx_num_buffers", 0, 0},
		{"num-buffers-huge", put16(10, 5000), "rx_num_buffers", 0, 0},
		{"csum-start-in-eth", func(h []byte, _ []uint32) {
			h[0] = vnet.HdrFNeedsCsum
			binary.LittleEndian.PutUint16(h[6:], 2)
		}, "rx_csum_offsets", 0, 0},
		{"csum-offset-past-end", func(h []byte, _ []uint32) {
			h[0] = vnet.HdrFNeedsCsum
			binary.LittleEndian.PutUint16(h[6:], 40)
			binary.LittleEndian.PutUint16(h[8:], 60000)
		}, "rx_csum_offsets", 0, 0},
		{"gso-unknown", func(h []byte, _ []uint32) { h[1] = 7 }, "rx_gso", 0, 0},
		// A plain frame cannot need two 1536-byte buffers.
		{"num-buffers-2", put16(10, 2), "rx_num_buffers", 0, 0},
		// With 512-byte buffers it can: the lie swallows the next frame.
		{"num-buffers-2-small-bufs", put16(10, 2), "", 1, 512},
		// Clamped by the core to the buffer, then longer than the link.
		{"overlong-used-len", func(_ []byte, l []uint32) { l[0] = 1 << 31 }, "rx_too_long", 0, 0},
		{"gso-without-tso", func(h []byte, _ []uint32) { h[1] = vnet.GSOTCPv4 }, "rx_gso", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var on atomic.Bool
			r := newRig(t, false, vnetsim.Options{Mangle: func(h []byte, l []uint32) {
				if on.Load() {
					c.m(h, l)
				}
			}}, vnet.Options{RxBufSize: c.bufSize, Disable: vnet.FeatureGuestTSO4})
			on.Store(true)
			r.sim.Inject(rawFrame(0, 200), vnetsim.RxOpts{Queue: 0})
			on.Store(false)
			if c.drop == "" && c.swallow == 0 {
				r.recv(t) // delivered, content undefined
			}
			for i := 1; i <= 3; i++ {
				f := rawFrame(i, 300)
				r.sim.Inject(f, vnetsim.RxOpts{Queue: 0})
				if i <= c.swallow {
					// The next frame's buffer, its header included,
					// became the tail of the lying one.
					if x := r.recv(t); len(x.f) != 200+12+300 {
						t.Fatalf("merged frame of %d bytes", len(x.f))
					}
					continue
				}
				if x := r.recv(t); !bytes.Equal(x.f, f) {
					t.Fatalf("good frame %d damaged", i)
				}
			}
			q := r.drv.Stats().Queues[0]
			if c.drop != "" && q.Drops[c.drop] != 1 {
				t.Fatalf("drops %v, want one %s", q.Drops, c.drop)
			}
			if c.name == "overlong-used-len" && q.RxQueue.LenClamped != 1 {
				t.Fatalf("used length not clamped: %+v", q.RxQueue)
			}
		})
	}
}

// A used ring that lies about ids is survived (the core drops the entry);
// one whose index runs ahead breaks the queue pair, which is then dead and
// counted, without a panic, while the transmit side keeps working.
func TestHostileUsedRing(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{}, vnet.Options{QueueSize: 16})
	var idx uint16
	r.sim.Inject(rawFrame(1, 100), vnetsim.RxOpts{Queue: 0})
	r.recv(t)
	idx = 1
	r.sim.Corrupt(0, func(vq *virtiosim.Queue) { vq.PushRaw(5000, 100, idx+1) })
	idx++
	// Still alive: an honest frame after the bad entry arrives.
	f := rawFrame(2, 100)
	r.sim.Inject(f, vnetsim.RxOpts{Queue: 0})
	if x := r.recv(t); !bytes.Equal(x.f, f) {
		t.Fatal("frame after a bad used id damaged")
	}
	if q := r.drv.Stats().Queues[0]; q.RxQueue.BadUsed != 1 {
		t.Fatalf("bad used entry not counted: %+v", q.RxQueue)
	}
	idx++
	r.sim.Corrupt(0, func(vq *virtiosim.Queue) { vq.PushRaw(0, 10, idx+1000) })
	// The poll runs on its goroutine; the queue dies there.
	for deadline := time.Now().Add(wait); r.drv.Stats().Queues[0].Drops["broken"] == 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("broken ring not noticed")
		}
	}
	if r.drv.Poll(0) {
		t.Fatal("dead queue wants polling")
	}
	if err := r.drv.Send(rawFrame(3, 100)); err != nil {
		t.Fatalf("transmit after the receive ring broke: %v", err)
	}
	r.sent(t)
}

// Per-queue vectors: QueueInterrupt schedules that queue alone.
func TestQueueInterrupt(t *testing.T) {
	var mu sync.Mutex
	var scheduled []int
	r := newRig(t, false, vnetsim.Options{Pairs: 2}, vnet.Options{Queues: 2, Schedule: func(q int) {
		mu.Lock()
		scheduled = append(scheduled, q)
		mu.Unlock()
	}})
	r.sim.SetInterrupt(func() {}) // the device's shared line goes nowhere
	f := rawFrame(7, 80)
	r.sim.Inject(f, vnetsim.RxOpts{Queue: 1})
	r.drv.QueueInterrupt(0) // nothing there
	r.drv.QueueInterrupt(1)
	r.drv.QueueInterrupt(5) // out of range: ignored
	mu.Lock()
	got := append([]int(nil), scheduled...)
	mu.Unlock()
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("scheduled %v", got)
	}
	for r.drv.Poll(1) {
	}
	if x := r.recv(t); x.q != 1 || !bytes.Equal(x.f, f) {
		t.Fatalf("frame on queue %d", x.q)
	}
}
