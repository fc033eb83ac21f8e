package virtio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
)

// echo is a device that copies what it reads into what it may write.
func echo(d *virtiosim.Device, q int, vq *virtiosim.Queue) bool {
	irq := false
	for {
		head, ok, err := vq.Pop()
		if err != nil {
			d.Report(err)
			return irq
		}
		if !ok {
			return irq
		}
		bufs, err := vq.Chain(head)
		if err != nil {
			d.Report(err)
			return irq
		}
		var in []byte
		for _, b := range bufs {
			if !b.Write {
				in = append(in, b.B...)
			}
		}
		n := 0
		for _, b := range bufs {
			if b.Write {
				n += copy(b.B, in[n:])
			}
		}
		want, err := vq.Push(head, uint32(n))
		if err != nil {
			d.Report(err)
		}
		irq = irq || want
	}
}

const echoID = 42

type rig struct {
	mem *virtiosim.Memory
	dev *virtiosim.Device
	t   virtio.Transport
	q   *virtio.Queue
	mu  sync.Mutex
	got map[int][]byte
	wg  sync.WaitGroup
}

func newRig(t *testing.T, pci bool, features uint64, qsize int) *rig {
	t.Helper()
	r := &rig{mem: virtiosim.NewMemory(), got: map[int][]byte{}}
	r.dev = virtiosim.NewDevice(echoID, features, nil, 1, 256, r.mem, echo)
	t.Cleanup(r.dev.Close)
	var err error
	if pci {
		r.t, err = virtio.NewPCI(virtiosim.NewPCI(r.dev))
	} else {
		r.t, err = virtio.NewMMIO(virtiosim.MMIO{D: r.dev})
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := virtio.Init(r.t, virtio.FeatureEventIdx|virtio.FeatureIndirectDesc)
	if err != nil {
		t.Fatal(err)
	}
	r.q, err = virtio.NewQueue(0, qsize, r.mem, f, r.t.Notify)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.t.SetQueue(r.q); err != nil {
		t.Fatal(err)
	}
	r.dev.SetInterrupt(r.interrupt)
	virtio.Ready(r.t)
	return r
}

type token struct {
	id  int
	out []byte
	in  [][]byte
}

func (r *rig) interrupt() {
	r.t.AckInterrupt()
	cs, err := r.q.Poll(nil)
	if err != nil {
		panic(err)
	}
	for _, c := range cs {
		tk := c.Token.(*token)
		var all []byte
		for _, b := range tk.in {
			all = append(all, b...)
		}
		r.mu.Lock()
		r.got[tk.id] = all[:c.Written]
		r.mu.Unlock()
		r.wg.Done()
	}
}

func TestQueueEcho(t *testing.T) {
	for _, pci := range []bool{false, true} {
		for _, feat := range []uint64{0, virtio.FeatureIndirectDesc, virtio.FeatureEventIdx, virtio.FeatureEventIdx | virtio.FeatureIndirectDesc} {
			t.Run(fmt.Sprintf("pci=%v/features=%#x", pci, feat), func(t *testing.T) {
				r := newRig(t, pci, virtio.FeatureVersion1|feat, 8)
				base := r.mem.Regions()
				// 100 requests through an 8-entry queue: wraps the rings many
				// times; 1..3 segments each, so without indirect the chains
				// wrap around the descriptor table too.
				for i := 0; i < 100; i++ {
					out := []byte(fmt.Sprintf("request %03d", i))
					nseg := 1 + i%3
					var outs, ins [][]byte
					for s := 0; s < nseg; s++ {
						lo, hi := s*len(out)/nseg, (s+1)*len(out)/nseg
						outs = append(outs, out[lo:hi])
						ins = append(ins, make([]byte, hi-lo))
					}
					tk := &token{id: i, out: out, in: ins}
					r.wg.Add(1)
					for {
						err := r.q.Add(outs, ins, tk)
						if err == nil {
							break
						}
						if !errors.Is(err, virtio.ErrQueueFull) {
							t.Fatal(err)
						}
						r.q.Kick()
						r.interrupt() // reap what is done; the device keeps going
					}
					r.q.Kick()
				}
				r.wg.Wait()
				for i := 0; i < 100; i++ {
					if want := fmt.Sprintf("request %03d", i); string(r.got[i]) != want {
						t.Fatalf("request %d came back %q", i, r.got[i])
					}
				}
				if err := virtio.CheckQueue(r.q); err != nil {
					t.Fatal(err)
				}
				if r.q.NumFree() != 8 {
					t.Fatalf("%d free descriptors after all completions", r.q.NumFree())
				}
				if n := r.mem.Regions(); n != base {
					t.Fatalf("%d DMA regions leaked", n-base)
				}
				if errs := r.dev.Errs(); len(errs) != 0 {
					t.Fatal(errs)
				}
				if feat&virtio.FeatureIndirectDesc != 0 && r.q.Stats().Indirect.Load() == 0 {
					t.Fatal("indirect descriptors not used")
				}
			})
		}
	}
}

// manual drives a queue against a device-side queue step by step.
func manual(t *testing.T, features uint64, size int) (*virtio.Queue, *virtiosim.Queue, *int, *virtiosim.Memory) {
	t.Helper()
	mem := virtiosim.NewMemory()
	notes := new(int)
	q, err := virtio.NewQueue(0, size, mem, features, func(int) { *notes++ })
	if err != nil {
		t.Fatal(err)
	}
	d, a, u := q.Addrs()
	return q, virtiosim.NewQueue(mem, uint16(size), d, a, u, features&virtio.FeatureEventIdx != 0), notes, mem
}

func TestEventIndexSuppression(t *testing.T) {
	q, dq, notes, _ := manual(t, virtio.FeatureEventIdx, 4)
	add := func() {
		if err := q.Add(nil, [][]byte{make([]byte, 4)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	add()
	q.Kick()
	if *notes != 1 {
		t.Fatalf("first kick: %d notifies", *notes)
	}
	// The device has not consumed anything: avail_event is still 0, so a
	// second kick is suppressed.
	add()
	q.Kick()
	if *notes != 1 || q.Stats().NotifyAvoid.Load() != 1 {
		t.Fatalf("second kick not suppressed: %d notifies", *notes)
	}
	// The device pops both, moving avail_event to 2: the next one notifies.
	for range 2 {
		if _, ok, err := dq.Pop(); !ok || err != nil {
			t.Fatal("pop", ok, err)
		}
	}
	add()
	q.Kick()
	if *notes != 2 {
		t.Fatalf("kick after device caught up: %d notifies", *notes)
	}
	// Interrupt suppression: used_event is 0 until the driver polls, so the
	// first completion interrupts and the second does not.
	if irq, _ := dq.Push(0, 4); !irq {
		t.Fatal("first completion did not interrupt")
	}
	if irq, _ := dq.Push(1, 4); irq {
		t.Fatal("second completion interrupted before the driver polled")
	}
	cs, err := q.Poll(nil)
	if err != nil || len(cs) != 2 {
		t.Fatalf("poll: %d completions, %v", len(cs), err)
	}
	// Poll re-armed used_event at 2: the next completion interrupts.
	if _, ok, _ := dq.Pop(); !ok {
		t.Fatal("third request not available")
	}
	if irq, _ := dq.Push(2, 4); !irq {
		t.Fatal("completion after re-arm did not interrupt")
	}
}

func TestNoNotifyFlagWithoutEventIdx(t *testing.T) {
	q, _, notes, _ := manual(t, 0, 4)
	if err := q.Add([][]byte{{1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	q.Kick()
	q.Kick() // nothing new: no doorbell
	if *notes != 1 {
		t.Fatalf("%d notifies", *notes)
	}
}

func TestHostileUsedRing(t *testing.T) {
	q, dq, _, _ := manual(t, 0, 4)
	in := make([]byte, 8)
	if err := q.Add([][]byte{{1, 2}}, [][]byte{in}, "a"); err != nil {
		t.Fatal(err)
	}
	if err := q.Add([][]byte{{3}}, nil, "b"); err != nil {
		t.Fatal(err)
	}
	// Bad id, an id that is a free descriptor, a huge length, a duplicate.
	steps := []struct {
		id, n uint32
	}{{99, 0}, {3, 0}, {0, 1 << 30}, {0, 4}}
	for i, s := range steps {
		if err := dq.PushRaw(s.id, s.n, uint16(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := q.Poll(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Token != "a" || cs[0].Written != 8 {
		t.Fatalf("completions %+v", cs)
	}
	st := q.Stats()
	if st.BadUsed.Load() != 3 || st.LenClamped.Load() != 1 {
		t.Fatalf("bad %d clamped %d", st.BadUsed.Load(), st.LenClamped.Load())
	}
	if err := virtio.CheckQueue(q); err != nil {
		t.Fatal(err)
	}
	// A used index running past the queue size breaks the queue for good.
	if err := dq.PushRaw(1, 0, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Poll(nil); !errors.Is(err, virtio.ErrQueueBroken) {
		t.Fatalf("run-ahead: %v", err)
	}
	if err := q.Add([][]byte{{1}}, nil, nil); !errors.Is(err, virtio.ErrQueueBroken) {
		t.Fatalf("add on broken queue: %v", err)
	}
	if len(q.Outstanding()) != 1 {
		t.Fatal("outstanding request lost")
	}
}

func TestInitNegotiation(t *testing.T) {
	mem := virtiosim.NewMemory()
	legacy := virtiosim.NewDevice(1, virtio.FeatureEventIdx, nil, 1, 8, mem, nil)
	defer legacy.Close()
	tr, err := virtio.NewMMIO(virtiosim.MMIO{D: legacy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := virtio.Init(tr, virtio.FeatureEventIdx); !errors.Is(err, virtio.ErrNoVersion1) {
		t.Fatalf("legacy device: %v", err)
	}
	if legacy.Status()&virtio.StatusFailed == 0 {
		t.Fatal("FAILED not set")
	}
	dev := virtiosim.NewDevice(1, virtio.FeatureVersion1|virtio.FeatureIndirectDesc|1<<5, nil, 1, 8, mem, nil)
	defer dev.Close()
	tr, _ = virtio.NewMMIO(virtiosim.MMIO{D: dev})
	f, err := virtio.Init(tr, virtio.FeatureEventIdx|virtio.FeatureIndirectDesc)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(virtio.FeatureVersion1 | virtio.FeatureIndirectDesc); f != want || dev.Negotiated() != want {
		t.Fatalf("negotiated %#x (device saw %#x), want %#x", f, dev.Negotiated(), want)
	}
}

type badRegs struct{ magic, version, id uint32 }

func (b badRegs) Read32(off uint32) uint32 {
	switch off {
	case virtio.MMIOMagicValue:
		return b.magic
	case virtio.MMIOVersion:
		return b.version
	case virtio.MMIODeviceID:
		return b.id
	}
	return 0
}
func (badRegs) Read8(uint32) uint8     { return 0 }
func (badRegs) Read16(uint32) uint16   { return 0 }
func (badRegs) Write8(uint32, uint8)   {}
func (badRegs) Write16(uint32, uint16) {}
func (badRegs) Write32(uint32, uint32) {}

func TestMMIOProbe(t *testing.T) {
	for _, tc := range []struct {
		r  badRegs
		ok bool
	}{
		{badRegs{virtio.MMIOMagic, 2, 2}, true},
		{badRegs{0xdeadbeef, 2, 2}, false},
		{badRegs{virtio.MMIOMagic, 1, 2}, false}, // legacy
		{badRegs{virtio.MMIOMagic, 2, 0}, false}, // empty slot
	} {
		if _, err := virtio.NewMMIO(tc.r); (err == nil) != tc.ok {
			t.Fatalf("%+v: %v", tc.r, err)
		}
	}
}

func TestPCICapabilities(t *testing.T) {
	mem := virtiosim.NewMemory()
	dev := virtiosim.NewDevice(2, virtio.FeatureVersion1, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 2, 64, mem, nil)
	defer dev.Close()
	p := virtiosim.NewPCI(dev)
	caps, err := virtio.ParsePCICaps(p)
	if err != nil {
		t.Fatal(err)
	}
	var types []uint8
	for _, c := range caps {
		types = append(types, c.CfgType)
	}
	if !bytes.Equal(types, []byte{1, 2, 3, 4}) || caps[1].Mult != 4 {
		t.Fatalf("caps %+v", caps)
	}
	tr, err := virtio.NewPCI(p)
	if err != nil {
		t.Fatal(err)
	}
	if tr.DeviceID() != 2 || tr.NumQueues() != 2 || tr.MaxQueueSize(1) != 64 || tr.MaxQueueSize(2) != 0 {
		t.Fatalf("id %d queues %d", tr.DeviceID(), tr.NumQueues())
	}
	if v := virtio.ReadConfig64(tr, 0); v != 0x0807060504030201 {
		t.Fatalf("device config %#x", v)
	}

	corrupt := []struct {
		name string
		mod  func(c []byte)
	}{
		{"loop", func(c []byte) { c[0x74+1] = 0x40 }},
		{"pointer into header", func(c []byte) { c[virtio.PCICapPtr] = 0x10 }},
		{"no cap list", func(c []byte) { binary.LittleEndian.PutUint16(c[virtio.PCIStatus:], 0) }},
		{"missing common", func(c []byte) { c[virtio.PCICapPtr] = 0x50 }},
		{"short cap", func(c []byte) { c[0x40+2] = 4 }},
		{"common too small", func(c []byte) { binary.LittleEndian.PutUint32(c[0x40+virtio.PCICapLength:], 8) }},
		{"not virtio", func(c []byte) { c[0] = 0x86; c[1] = 0x80 }},
		{"pointer at the end", func(c []byte) { c[0x74+1] = 0xfe }},
	}
	for _, tc := range corrupt {
		q := virtiosim.NewPCI(dev)
		tc.mod(q.Cfg[:])
		if _, err := virtio.NewPCI(q); err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
	}
}

func TestProbeMMIO(t *testing.T) {
	mem := virtiosim.NewMemory()
	dev := virtiosim.NewDevice(virtio.DeviceBlock, virtio.FeatureVersion1, nil, 1, 8, mem, nil)
	defer dev.Close()
	slots := map[uintptr]virtio.Regs{
		0x1000: badRegs{},                       // nothing there
		0x1200: virtiosim.MMIO{D: dev},          // a block device
		0x1400: badRegs{virtio.MMIOMagic, 2, 0}, // empty slot
		0x1600: badRegs{virtio.MMIOMagic, 1, 1}, // legacy
	}
	got := virtio.ProbeMMIO(0x1000, 0x200, 4, func(a uintptr) virtio.Regs { return slots[a] })
	if len(got) != 1 || got[0].Index != 1 || got[0].DeviceID != virtio.DeviceBlock || got[0].Addr != 0x1200 {
		t.Fatalf("probe found %+v", got)
	}
}

func TestInterruptSuppressionAPI(t *testing.T) {
	for _, feat := range []uint64{0, virtio.FeatureEventIdx} {
		q, dq, _, _ := manual(t, feat, 4)
		for range 3 {
			if err := q.Add(nil, [][]byte{make([]byte, 4)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		q.DisableInterrupts()
		for i := range 2 {
			if _, ok, _ := dq.Pop(); !ok {
				t.Fatal("nothing available")
			}
			if irq, _ := dq.Push(uint16(i), 4); irq {
				t.Fatalf("features %#x: interrupt while disabled", feat)
			}
		}
		if cs, _ := q.Poll(nil); len(cs) != 2 {
			t.Fatalf("polled %d", len(cs))
		}
		if err := q.Add(nil, [][]byte{make([]byte, 4)}, nil); err != nil { // Add keeps the flag
			t.Fatal(err)
		}
		dq.Pop()
		if irq, _ := dq.Push(2, 4); irq {
			t.Fatalf("features %#x: interrupt while disabled after Add", feat)
		}
		if !q.EnableInterrupts() {
			t.Fatal("pending entry not reported on enable")
		}
		q.Poll(nil)
		if q.EnableInterrupts() {
			t.Fatal("spurious pending")
		}
		dq.Pop()
		if irq, _ := dq.Push(3, 4); !irq {
			t.Fatalf("features %#x: no interrupt after enable", feat)
		}
	}
}
