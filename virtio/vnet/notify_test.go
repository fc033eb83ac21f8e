package vnet

import (
	"encoding/binary"
	"fmt"
	"testing"

	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
)

// notify.go leans on two facts about the core's Queue: its rings are the
// allocations at the addresses Addrs reports, and every used entry it
// consumes bumps exactly one of Completions and BadUsed. This test pins
// both, so a core change that breaks them fails here by name rather than
// as a stalled receive queue.
func TestIrqCtlTracksCore(t *testing.T) {
	for _, ev := range []bool{true, false} {
		t.Run(fmt.Sprintf("eventidx=%v", ev), func(t *testing.T) {
			mem := virtiosim.NewMemory()
			f := uint64(virtio.FeatureVersion1)
			if ev {
				f |= virtio.FeatureEventIdx
			}
			const size = 8
			q, c, err := newQueue(mem, 0, size, f, func(int) {})
			if err != nil {
				t.Fatal(err)
			}
			if c.avail == nil || c.used == nil {
				t.Fatal("rings not found behind the addresses Queue.Addrs reports")
			}
			desc, avail, used := q.Addrs()
			dev := virtiosim.NewQueue(mem, size, desc, avail, used, ev)
			for round := 0; round < 5; round++ { // wraps the 8-entry ring
				for i := 0; i < 3; i++ {
					if err := q.Add(nil, [][]byte{make([]byte, 64)}, i); err != nil {
						t.Fatal(err)
					}
				}
				for i := 0; i < 3; i++ {
					h, ok, err := dev.Pop()
					if err != nil || !ok {
						t.Fatal(ok, err)
					}
					dev.Push(h, 10)
				}
				// A used entry naming nothing outstanding: BadUsed.
				idx := c.usedIdx()
				dev.PushRaw(size+1, 0, idx+1)
				if !c.pending() {
					t.Fatal("used entries not seen as pending")
				}
				c.disable()
				if ev {
					ue := binary.LittleEndian.Uint16(c.avail[4+2*size:])
					if ue != c.usedIdx()-1 {
						t.Fatalf("disabled used_event %d, used idx %d", ue, c.usedIdx())
					}
				} else if binary.LittleEndian.Uint16(c.avail[0:])&virtio.AvailFNoInterrupt == 0 {
					t.Fatal("NO_INTERRUPT not set")
				}
				cs, err := q.Poll(nil)
				if err != nil || len(cs) != 3 {
					t.Fatalf("poll: %d completions, %v", len(cs), err)
				}
				if c.pending() || c.lastUsed() != c.usedIdx() {
					t.Fatalf("after consuming all: lastUsed %d, used idx %d", c.lastUsed(), c.usedIdx())
				}
				c.enable()
				if ev {
					if ue := binary.LittleEndian.Uint16(c.avail[4+2*size:]); ue != c.lastUsed() {
						t.Fatalf("enabled used_event %d, want %d", ue, c.lastUsed())
					}
				} else if binary.LittleEndian.Uint16(c.avail[0:])&virtio.AvailFNoInterrupt != 0 {
					t.Fatal("NO_INTERRUPT still set")
				}
			}
			if q.Stats().BadUsed.Load() != 5 {
				t.Fatalf("BadUsed %d", q.Stats().BadUsed.Load())
			}
		})
	}
}
