package virtio_test

import (
	"encoding/binary"
	"testing"

	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
)

// FuzzUsedRing plays a hostile device: the input is a script of used-ring
// writes (id, len, index) interleaved with driver Adds. Whatever it does,
// Poll must not panic, completions must name outstanding requests, and the
// free list must stay consistent.
func FuzzUsedRing(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 8, 0, 0, 0, 1, 0})
	f.Add([]byte{99, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 255, 255, 255, 255, 2, 0})
	f.Add([]byte{3, 0, 0, 0, 1, 0, 0, 0, 200, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, feat := range []uint64{0, virtio.FeatureIndirectDesc | virtio.FeatureEventIdx} {
			mem := virtiosim.NewMemory()
			q, err := virtio.NewQueue(0, 8, mem, feat, func(int) {})
			if err != nil {
				t.Fatal(err)
			}
			d, a, u := q.Addrs()
			dq := virtiosim.NewQueue(mem, 8, d, a, u, false)
			live := map[int]bool{}
			next := 0
			for len(script) >= 10 {
				step := script[:10]
				script = script[10:]
				// Keep the queue partly filled with 1..3-buffer requests.
				nb := 1 + int(step[9]&3)%3
				bufs := make([][]byte, nb)
				for i := range bufs {
					bufs[i] = make([]byte, 4)
				}
				if q.Add(bufs[:1], bufs[1:], next) == nil {
					live[next] = true
				}
				next++
				id := binary.LittleEndian.Uint32(step[0:])
				n := binary.LittleEndian.Uint32(step[4:])
				idx := binary.LittleEndian.Uint16(step[8:])
				if err := dq.PushRaw(id, n, idx); err != nil {
					t.Fatal(err)
				}
				cs, err := q.Poll(nil)
				for _, c := range cs {
					k := c.Token.(int)
					if !live[k] {
						t.Fatalf("completion for request %d which is not outstanding", k)
					}
					delete(live, k)
					if c.Written > 8 {
						t.Fatalf("written %d beyond the writable buffers", c.Written)
					}
				}
				if err := virtio.CheckQueue(q); err != nil {
					t.Fatal(err)
				}
				if err != nil {
					break // broken queue: stays broken, nothing more to check
				}
			}
			if len(q.Outstanding()) != len(live) {
				t.Fatalf("outstanding %d, expected %d", len(q.Outstanding()), len(live))
			}
		}
	})
}

// FuzzChain feeds arbitrary descriptor tables (possibly with an indirect
// table) to the device-side chain walker used by the simulator: loops, bad
// indexes and bad addresses must come back as errors, not hangs or panics.
func FuzzChain(f *testing.F) {
	desc := func(addr uint64, n uint32, flags, next uint16) []byte {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, addr)
		binary.LittleEndian.PutUint32(b[8:], n)
		binary.LittleEndian.PutUint16(b[12:], flags)
		binary.LittleEndian.PutUint16(b[14:], next)
		return b
	}
	loop := append(desc(0, 0, virtio.DescFNext, 1), desc(0, 0, virtio.DescFNext, 0)...)
	f.Add(loop, []byte{}, uint8(0))
	f.Add(desc(0, 32, virtio.DescFIndirect, 0), append(desc(0, 0, virtio.DescFNext, 1), desc(0, 0, virtio.DescFNext|virtio.DescFIndirect, 0)...), uint8(0))
	f.Add(desc(0, 4, virtio.DescFWrite|virtio.DescFNext, 1), desc(0, 4, 0, 0), uint8(0))
	f.Fuzz(func(t *testing.T, table, ind []byte, head uint8) {
		mem := virtiosim.NewMemory()
		data, dataAddr := mem.Alloc(4096, 16)
		_ = data
		n := len(table) / 16
		if n == 0 || n > 256 {
			return
		}
		tb, tAddr := mem.Alloc(16*n, 16)
		copy(tb, table)
		var indAddr uint64
		if len(ind) >= 16 {
			ib, a := mem.Alloc(len(ind)/16*16, 16)
			copy(ib, ind)
			indAddr = a
		}
		// Point addresses at real memory some of the time so the walk goes
		// deep: low address bits select data or the indirect table.
		fix := func(b []byte) {
			for i := 0; i+16 <= len(b); i += 16 {
				a := binary.LittleEndian.Uint64(b[i:])
				switch a & 3 {
				case 0:
					binary.LittleEndian.PutUint64(b[i:], dataAddr+(a>>2)%4096)
				case 1:
					binary.LittleEndian.PutUint64(b[i:], indAddr)
				}
			}
		}
		fix(tb)
		if indAddr != 0 {
			ib, _ := mem.Slice(indAddr, uint32(len(ind)/16*16))
			fix(ib)
		}
		bufs, err := virtiosim.ParseChain(mem, tAddr, uint16(n), uint16(head))
		if err == nil && len(bufs) > n+len(ind)/16 {
			t.Fatalf("%d buffers from %d descriptors", len(bufs), n+len(ind)/16)
		}
	})
}

// FuzzPCICaps feeds arbitrary PCI configuration spaces to the capability
// parser and the transport constructor: refused or accepted, never a panic
// or an endless walk, and register accesses stay inside the windows.
func FuzzPCICaps(f *testing.F) {
	mem := virtiosim.NewMemory()
	dev := virtiosim.NewDevice(2, virtio.FeatureVersion1, make([]byte, 16), 1, 8, mem, nil)
	good := virtiosim.NewPCI(dev).Cfg
	f.Add(good[:])
	loop := good
	loop[0x74+1] = 0x40
	f.Add(loop[:])
	f.Fuzz(func(t *testing.T, cfg []byte) {
		p := virtiosim.NewPCI(dev)
		copy(p.Cfg[:], cfg)
		if _, err := virtio.ParsePCICaps(p); err != nil {
			return
		}
		tr, err := virtio.NewPCI(p)
		if err != nil {
			return
		}
		tr.DeviceFeatures()
		tr.MaxQueueSize(0)
		tr.ReadConfig32(12)
		tr.Notify(0)
	})
	dev.Close()
}
