package pci

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// fakeFn is a simulated function: its 256-byte header and, per BAR
// register, the address bits the device implements (writable) and its
// read-only flag bits, as real BARs behave when sized.
type fakeFn struct {
	cfg   [ConfigSize]byte
	masks [barNum]uint32
	flags [barNum]uint32
}

// fakeBus is a configuration space of simulated functions. It counts
// all-ones writes to BARs made while a decoder was on, which a sizing
// routine must never do.
type fakeBus struct {
	fns        map[BDF]*fakeFn
	first      uint8
	last       uint8
	liveProbes int
}

func newBus() *fakeBus { return &fakeBus{fns: map[BDF]*fakeFn{}, last: 255} }

func (b *fakeBus) add(a BDF, vendor, device uint16, header uint8, class uint32) *fakeFn {
	f := &fakeFn{}
	le := binary.LittleEndian
	le.PutUint16(f.cfg[VendorID:], vendor)
	le.PutUint16(f.cfg[DeviceID:], device)
	le.PutUint32(f.cfg[RevisionID:], class<<8|1)
	f.cfg[HeaderType] = header
	b.fns[a] = f
	return f
}

func (f *fakeFn) setBAR(i int, mask, flags, v uint32) {
	f.masks[i], f.flags[i] = mask, flags
	binary.LittleEndian.PutUint32(f.cfg[BAR0+4*i:], v&mask|flags)
}

// bar32 makes BAR i a 32-bit memory BAR of size n at addr.
func (f *fakeFn) bar32(i int, addr uint32, n uint32) { f.setBAR(i, ^(n-1)&^0xf, 0, addr) }

// bar64 makes BARs i, i+1 a 64-bit prefetchable memory BAR.
func (f *fakeFn) bar64(i int, addr uint64, n uint64) {
	m := ^(n - 1)
	f.setBAR(i, uint32(m)&^0xf, barType64|barPrefetch, uint32(addr))
	f.setBAR(i+1, uint32(m>>32), 0, uint32(addr>>32))
}

// barIO makes BAR i an I/O BAR with a 16-bit decoder.
func (f *fakeFn) barIO(i int, port uint16, n uint16) {
	f.setBAR(i, uint32(^(n-1))&0xfffc, barIO, uint32(port))
}

func (b *fakeBus) Read32(a BDF, off uint16) uint32 {
	f, ok := b.fns[a]
	if !ok || off&3 != 0 || off >= ConfigSize {
		return 0xffffffff
	}
	return binary.LittleEndian.Uint32(f.cfg[off:])
}

func (b *fakeBus) Write32(a BDF, off uint16, v uint32) {
	f, ok := b.fns[a]
	if !ok || off&3 != 0 || off >= ConfigSize {
		return
	}
	if off >= BAR0 && off < BAR0+4*barNum {
		i := int(off-BAR0) / 4
		if v == 0xffffffff && binary.LittleEndian.Uint16(f.cfg[Command:])&(CmdIO|CmdMemory) != 0 {
			b.liveProbes++
		}
		binary.LittleEndian.PutUint32(f.cfg[off:], v&f.masks[i]|f.flags[i])
		return
	}
	if off == VendorID || off == RevisionID {
		return
	}
	binary.LittleEndian.PutUint32(f.cfg[off:], v)
}

func (b *fakeBus) Write16(a BDF, off uint16, v uint16) {
	f, ok := b.fns[a]
	if !ok || off&1 != 0 || off >= ConfigSize {
		return
	}
	if off < BAR0 && off != Command {
		return
	}
	binary.LittleEndian.PutUint16(f.cfg[off:], v)
}

func (b *fakeBus) Buses() (uint8, uint8) { return b.first, b.last }
func (b *fakeBus) Name() string          { return "fake" }

// machine builds a q35-like tree: a host bridge, a multi-function device,
// a virtio device, and a bridge to bus 1 that holds another one.
func machine() *fakeBus {
	b := newBus()
	b.add(BDF{0, 0, 0}, 0x8086, 0x29c0, 0, 0x060000)
	v := b.add(BDF{0, 2, 0}, 0x1af4, 0x1041, 0, 0x020000)
	v.bar32(1, 0xfebc1000, 0x1000)
	v.bar64(4, 0xfebfc000, 0x4000)
	br := b.add(BDF{0, 3, 0}, 0x1b36, 0x000c, HeaderBridge|HeaderMultiFn, 0x060400)
	br.cfg[SecondaryBus] = 1
	b.add(BDF{0, 3, 1}, 0x8086, 0x1234, 0, 0x0c0500)
	// function 2 absent: not listed though function 3 is
	b.add(BDF{0, 3, 3}, 0x8086, 0x5678, 0, 0x0c0500)
	l := b.add(BDF{0, 31, 0}, 0x8086, 0x2918, 0, 0x060100) // single function:
	b.add(BDF{0, 31, 2}, 0x8086, 0x2922, 0, 0x010601)      // not scanned
	_ = l
	d := b.add(BDF{1, 0, 0}, 0x1af4, 0x1042, 0, 0x010000)
	d.bar64(4, 0x8_0000_0000, 0x4000)
	d.barIO(0, 0xc000, 0x40)
	return b
}

func TestScan(t *testing.T) {
	b := machine()
	fns, warns := Scan(b)
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	var got []string
	for _, f := range fns {
		got = append(got, f.String())
	}
	want := []string{
		"00:00.0 8086:29c0 class 060000",
		"00:02.0 1af4:1041 class 020000",
		"00:03.0 1b36:000c class 060400",
		"00:03.1 8086:1234 class 0c0500",
		"00:03.3 8086:5678 class 0c0500",
		"00:1f.0 8086:2918 class 060100",
		"01:00.0 1af4:1042 class 010000",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("scan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fns[2].Secondary != 1 || fns[2].Header != HeaderBridge {
		t.Errorf("bridge %+v", fns[2])
	}
}

func TestScanBridgeLoops(t *testing.T) {
	b := newBus()
	br := b.add(BDF{0, 1, 0}, 0x1b36, 0x000c, HeaderBridge, 0x060400)
	br.cfg[SecondaryBus] = 1
	br2 := b.add(BDF{1, 0, 0}, 0x1b36, 0x000c, HeaderBridge, 0x060400)
	br2.cfg[SecondaryBus] = 0 // points back up
	br3 := b.add(BDF{1, 1, 0}, 0x1b36, 0x000c, HeaderBridge, 0x060400)
	br3.cfg[SecondaryBus] = 1 // itself
	fns, warns := Scan(b)
	if len(fns) != 3 || len(warns) != 2 {
		t.Errorf("fns %v warnings %v", fns, warns)
	}
}

func TestReadBARs(t *testing.T) {
	b := machine()
	binary.LittleEndian.PutUint16(b.fns[BDF{1, 0, 0}].cfg[Command:], CmdMemory|CmdIO)
	bars, err := ReadBARs(b, BDF{1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	want := []BAR{
		{Index: 0, IO: true, Addr: 0xc000, Size: 0x40},
		{Index: 4, Mem64: true, Prefetch: true, Addr: 0x8_0000_0000, Size: 0x4000},
	}
	if len(bars) != len(want) {
		t.Fatalf("bars %v", bars)
	}
	for i := range want {
		if bars[i] != want[i] {
			t.Errorf("bar %d: %+v, want %+v", i, bars[i], want[i])
		}
	}
	if b.liveProbes != 0 {
		t.Errorf("%d BARs probed with the decoder on", b.liveProbes)
	}
	f := b.fns[BDF{1, 0, 0}]
	if c := binary.LittleEndian.Uint16(f.cfg[Command:]); c != CmdMemory|CmdIO {
		t.Errorf("command %#x not restored", c)
	}
	if a := binary.LittleEndian.Uint32(f.cfg[BAR0+16:]); a != barType64|barPrefetch {
		t.Errorf("BAR 4 low half %#x not restored", a)
	}
	if a := binary.LittleEndian.Uint32(f.cfg[BAR0+20:]); a != 8 {
		t.Errorf("BAR 4 high half %#x not restored", a)
	}

	bars, err = ReadBARs(b, BDF{0, 2, 0})
	if err != nil || len(bars) != 2 || bars[0].Addr != 0xfebc1000 || bars[0].Size != 0x1000 || bars[0].Mem64 {
		t.Errorf("virtio-net bars %v %v", bars, err)
	}
	if bb, err := FindBAR(bars, 4); err != nil || bb.Addr != 0xfebfc000 {
		t.Errorf("FindBAR 4: %v %v", bb, err)
	}
	if _, err := FindBAR(bars, 2); !errors.Is(err, ErrNoBAR) {
		t.Errorf("FindBAR 2: %v", err)
	}
	if _, err := ReadBARs(b, BDF{0, 3, 0}); err == nil {
		t.Error("bridge BARs read as a device's")
	}
}

func TestReadBARsBad(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(f *fakeFn)
		want string
	}{
		{"64-bit in the last slot", func(f *fakeFn) { f.setBAR(5, 0xfffff000, barType64, 0xfebc0000) }, "no upper half"},
		{"misaligned", func(f *fakeFn) { f.bar32(0, 0, 0x1000); binary.LittleEndian.PutUint32(f.cfg[BAR0:], 0xfebc0800) }, "not aligned"},
		{"mask with holes", func(f *fakeFn) { f.bar32(0, 0xfebc0000, 0x1000); f.masks[0] = 0xfff0f000 }, "power of two"},
	} {
		b := newBus()
		f := b.add(BDF{0, 1, 0}, 0x1af4, 0x1041, 0, 0)
		tt.set(f)
		if _, err := ReadBARs(b, BDF{0, 1, 0}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// an unassigned memory BAR is left out
	b := newBus()
	f := b.add(BDF{0, 1, 0}, 0x1af4, 0x1041, 0, 0)
	f.bar32(1, 0, 0x1000)
	if bars, err := ReadBARs(b, BDF{0, 1, 0}); err != nil || len(bars) != 0 {
		t.Errorf("unassigned: %v %v", bars, err)
	}
}

func TestEnable(t *testing.T) {
	b := machine()
	a := BDF{0, 2, 0}
	binary.LittleEndian.PutUint16(b.fns[a].cfg[Command:], CmdIntxDisable)
	Enable(b, a)
	if c := Read16(b, a, Command); c != CmdIntxDisable|CmdMemory|CmdBusMaster {
		t.Errorf("command %#x", c)
	}
}

// fakeMem is physical memory for ECAM, recording accesses.
type fakeMem map[uint64]uint32

func (m fakeMem) Read32(a uint64) uint32 {
	if v, ok := m[a]; ok {
		return v
	}
	return 0xffffffff
}
func (m fakeMem) Write32(a uint64, v uint32) { m[a] = v }
func (m fakeMem) Write16(a uint64, v uint16) {
	m[a&^3] = m[a&^3]&^(0xffff<<(8*(a&2))) | uint32(v)<<(8*(a&2))
}

func TestECAM(t *testing.T) {
	m := fakeMem{}
	e := &ECAM{Base: 0xb0000000, First: 0, Last: 0xff, Mem: m}
	m[0xb0000000+2<<15+4] = 0x00100007
	if v := e.Read32(BDF{0, 2, 0}, 4); v != 0x00100007 {
		t.Errorf("read %#x", v)
	}
	e.Write16(BDF{0, 2, 0}, 6, 0xabcd)
	if v := m[0xb0000000+2<<15+4]; v != 0xabcd0007 {
		t.Errorf("write16 %#x", v)
	}
	e.Write32(BDF{3, 31, 7}, 0xffc, 1)
	if m[0xb0000000+3<<20+31<<15+7<<12+0xffc] != 1 {
		t.Errorf("write32 at the last dword missed: %v", m)
	}
	for _, bad := range []struct {
		f   BDF
		off uint16
	}{{BDF{0, 32, 0}, 0}, {BDF{0, 0, 8}, 0}, {BDF{0, 0, 0}, 0x1000}, {BDF{0, 0, 0}, 2}} {
		if v := e.Read32(bad.f, bad.off); v != 0xffffffff {
			t.Errorf("%v+%#x read %#x", bad.f, bad.off, v)
		}
	}
	e2 := &ECAM{Base: 0xe0000000, First: 2, Last: 3, Mem: m}
	if v := e2.Read32(BDF{1, 0, 0}, 0); v != 0xffffffff {
		t.Errorf("bus below the range read %#x", v)
	}
	n := len(m)
	e2.Write32(BDF{4, 0, 0}, 0, 0)
	if len(m) != n {
		t.Error("write above the bus range went through")
	}
}

// fakePorts models mechanism #1 over a fakeBus.
type fakePorts struct {
	bus  *fakeBus
	addr uint32
	log  []string
}

func (p *fakePorts) a() (BDF, uint16, bool) {
	if p.addr&configEnable == 0 {
		return BDF{}, 0, false
	}
	return BDF{uint8(p.addr >> 16), uint8(p.addr>>11) & 31, uint8(p.addr>>8) & 7}, uint16(p.addr & 0xfc), true
}

func (p *fakePorts) In32(port uint16) uint32 {
	f, off, ok := p.a()
	if port != ConfigData || !ok {
		return 0xffffffff
	}
	return p.bus.Read32(f, off)
}

func (p *fakePorts) Out32(port uint16, v uint32) {
	switch port {
	case ConfigAddress:
		p.addr = v
	case ConfigData:
		if f, off, ok := p.a(); ok {
			p.bus.Write32(f, off, v)
		}
	}
}

func (p *fakePorts) Out16(port uint16, v uint16) {
	if f, off, ok := p.a(); ok && port >= ConfigData && port <= ConfigData+2 {
		p.bus.Write16(f, off+port-ConfigData, v)
		p.log = append(p.log, "w16")
	}
}

func TestPorts(t *testing.T) {
	b := machine()
	fp := &fakePorts{bus: b}
	p := &Ports{IO: fp}
	fns, _ := Scan(p)
	if len(fns) != 7 {
		t.Errorf("scan through ports found %d functions", len(fns))
	}
	Enable(p, BDF{0, 2, 0})
	if c := Read16(b, BDF{0, 2, 0}, Command); c != CmdMemory|CmdBusMaster {
		t.Errorf("command %#x", c)
	}
	bars, err := ReadBARs(p, BDF{1, 0, 0})
	if err != nil || len(bars) != 2 {
		t.Errorf("bars through ports: %v %v", bars, err)
	}
	if v := p.Read32(BDF{0, 0, 0}, 0x100); v != 0xffffffff {
		t.Errorf("extended offset through ports read %#x", v)
	}
}

// FuzzScan feeds arbitrary configuration space to the walk and the BAR
// sizing: neither may panic or loop, whatever the VMM presents.
func FuzzScan(f *testing.F) {
	seed := machine()
	var buf []byte
	for _, a := range []BDF{{0, 2, 0}, {0, 3, 0}, {1, 0, 0}} {
		buf = append(buf, seed.fns[a].cfg[:64]...)
	}
	f.Add(buf)
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		bus := newBus()
		// each 64-byte chunk is the header of a function; its slot and
		// BAR masks come from the bytes too
		for i := 0; i+64 <= len(b) && i < 64*64; i += 64 {
			c := b[i : i+64]
			a := BDF{c[0x3e] % 4, c[0x3f] % 32, c[0x0d] % 8}
			fn := &fakeFn{}
			copy(fn.cfg[:], c)
			for j := range fn.masks {
				fn.masks[j] = binary.LittleEndian.Uint32(c[0x10+4*j:]) ^ binary.LittleEndian.Uint32(c[0x28:])
				fn.flags[j] = uint32(c[0x30+j]) & 0xf
			}
			bus.fns[a] = fn
		}
		fns, _ := Scan(bus)
		for _, fn := range fns {
			if fn.Header != HeaderNormal {
				continue
			}
			bars, err := ReadBARs(bus, fn.BDF)
			for _, bar := range bars {
				if err == nil && (bar.Size == 0 || bar.Size&(bar.Size-1) != 0 || bar.Addr&(bar.Size-1) != 0) {
					t.Fatalf("accepted %v", bar)
				}
			}
		}
	})
}

func TestDevice(t *testing.T) {
	b := machine()
	d, err := Open(b, BDF{1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.ConfigRead16(Command); c&(CmdMemory|CmdBusMaster) != CmdMemory|CmdBusMaster {
		t.Errorf("not enabled: command %#x", c)
	}
	if v := d.ConfigRead16(VendorID); v != 0x1af4 {
		t.Errorf("vendor %#x", v)
	}
	if v := d.ConfigRead8(DeviceID + 1); v != 0x10 {
		t.Errorf("device id high byte %#x", v)
	}
	if v := d.ConfigRead32(0x100); v != 0xffffffff {
		t.Errorf("offset beyond the header read %#x", v)
	}
	if v := d.ConfigRead16(0xff); v != 0xffff {
		t.Errorf("unaligned 16-bit read %#x", v)
	}
	d.ConfigWrite16(0x40, 0x8000)
	if v := d.ConfigRead16(0x40); v != 0x8000 {
		t.Errorf("write16 read back %#x", v)
	}
	if bar, err := d.MemBAR(4); err != nil || bar.Addr != 0x8_0000_0000 {
		t.Errorf("MemBAR(4) %v %v", bar, err)
	}
	if _, err := d.MemBAR(0); err == nil {
		t.Error("I/O BAR returned as memory")
	}
	if _, err := d.MemBAR(1); !errors.Is(err, ErrNoBAR) {
		t.Errorf("MemBAR(1): %v", err)
	}
}
