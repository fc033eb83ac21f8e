package board

import (
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fakeMem is guest memory starting at physical address 0.
type fakeMem []byte

func (m fakeMem) ReadPhys(addr uint64, b []byte) error {
	if addr > uint64(len(m)) || uint64(len(b)) > uint64(len(m))-addr {
		return errors.New("out of range")
	}
	copy(b, m[addr:])
	return nil
}

// buildBoot lays out a start_info at 0x1000, a memory map at 0x2000 and the
// command line at 0x3000, as QEMU's pvh option ROM does (addresses differ).
func buildBoot(version uint32, cmdline string, entries []MemEntry) fakeMem {
	m := make(fakeMem, 0x4000)
	le := binary.LittleEndian
	si := m[0x1000:]
	le.PutUint32(si[0x00:], StartInfoMagic)
	le.PutUint32(si[0x04:], version)
	le.PutUint64(si[0x18:], 0x3000)
	le.PutUint64(si[0x20:], 0xf0000)
	le.PutUint64(si[0x28:], 0x2000)
	le.PutUint32(si[0x30:], uint32(len(entries)))
	for i, e := range entries {
		b := m[0x2000+i*memmapEntrySize:]
		le.PutUint64(b[0:], e.Addr)
		le.PutUint64(b[8:], e.Size)
		le.PutUint32(b[16:], uint32(e.Type))
	}
	copy(m[0x3000:], cmdline)
	return m
}

// qemuMicrovm2G is the map QEMU 7.2 microvm gives a -m 2G guest (as seen by
// this board's banner), and qemuMicrovm5G one with RAM above the 4 GiB hole (layouts as QEMU's pvh ROM builds them).
var (
	qemuMicrovm2G = []MemEntry{
		{0, 0x9fc00, MemRAM}, {0x9fc00, 0x400, MemReserved}, {0xf0000, 0x10000, MemReserved},
		{0x100000, 0x7ff00000, MemRAM}, {0xfeffc000, 0x4000, MemReserved},
	}
	qemuMicrovm5G = []MemEntry{
		{0, 0x9fc00, MemRAM}, {0x9fc00, 0x400, MemReserved}, {0xf0000, 0x10000, MemReserved},
		{0x100000, 0xc0000000 - 0x100000, MemRAM}, {0xfeffc000, 0x4000, MemReserved},
		{0x100000000, 0x80000000, MemRAM},
	}
)

func TestReadBootInfo(t *testing.T) {
	m := buildBoot(1, "selftest=time poweroff", qemuMicrovm5G)
	bi, err := ReadBootInfo(m, 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	if bi.Cmdline != "selftest=time poweroff" {
		t.Errorf("cmdline %q", bi.Cmdline)
	}
	if bi.StartInfo.RsdpPaddr != 0xf0000 || bi.StartInfo.Version != 1 {
		t.Errorf("start_info %+v", bi.StartInfo)
	}
	if !reflect.DeepEqual(bi.Memmap, qemuMicrovm5G) {
		t.Errorf("memmap %v", bi.Memmap)
	}
	u := UsableRAM(bi.Memmap)
	want := []Region{{0, 0x9f000}, {0x100000, 0xc0000000}, {0x100000000, 0x180000000}}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("usable %v, want %v", u, want)
	}
	if got := TotalSize(u) >> 20; got != 5*1024-1 {
		t.Errorf("total %d MiB", got)
	}
	h, err := HeapRegion(u, 0x1000000, 64<<20)
	if err != nil || h != (Region{0x1000000, 0xc0000000}) {
		t.Errorf("heap %v %v", h, err)
	}
}

func TestReadBootInfoErrors(t *testing.T) {
	good := qemuMicrovm2G
	tests := []struct {
		name string
		mem  fakeMem
		addr uint64
		want string
	}{
		{"nil pointer", buildBoot(1, "", good), 0, "no start_info"},
		{"bad magic", buildBoot(1, "", good), 0x1004, "magic"},
		{"version 0", buildBoot(0, "", good), 0x1000, "no memory map"},
		{"empty map", buildBoot(1, "", nil), 0x1000, "empty"},
		{"beyond memory", buildBoot(1, "", good), 0x3ff0, "out of range"},
		{"unterminated cmdline", func() fakeMem {
			m := buildBoot(1, "", good)
			for i := 0x3000; i < len(m); i++ {
				m[i] = 'x'
			}
			return m
		}(), 0x1000, "cmdline"},
		{"huge map", func() fakeMem {
			m := buildBoot(1, "", good)
			binary.LittleEndian.PutUint32(m[0x1030:], 100000)
			return m
		}(), 0x1000, "limit"},
	}
	for _, tt := range tests {
		_, err := ReadBootInfo(tt.mem, tt.addr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestUsableRAM(t *testing.T) {
	tests := []struct {
		name string
		in   []MemEntry
		want []Region
	}{
		{"empty", nil, nil},
		{"unaligned", []MemEntry{{0x1001, 0x3000, MemRAM}}, []Region{{0x2000, 0x4000}}},
		{"overlapping ram merges", []MemEntry{{0x0, 0x5000, MemRAM}, {0x3000, 0x5000, MemRAM}}, []Region{{0, 0x8000}}},
		{"reserved inside ram", []MemEntry{{0, 0x10000, MemRAM}, {0x4000, 0x1000, MemReserved}},
			[]Region{{0, 0x4000}, {0x5000, 0x10000}}},
		{"reserved covers ram", []MemEntry{{0x1000, 0x1000, MemRAM}, {0, 0x10000, MemACPI}}, nil},
		{"out of order", []MemEntry{{0x100000000, 0x1000, MemRAM}, {0, 0x1000, MemRAM}},
			[]Region{{0, 0x1000}, {0x100000000, 0x100001000}}},
		{"wraps", []MemEntry{{0xfffffffffffff000, 0x2000, MemRAM}}, []Region{{0xfffffffffffff000, 0xfffffffffffff000}}[:0]},
		{"pmem is not ram", []MemEntry{{0, 0x1000, MemPMEM}}, nil},
	}
	for _, tt := range tests {
		got := UsableRAM(tt.in)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHeapRegionErrors(t *testing.T) {
	u := []Region{{0, 0x9f000}, {0x100000, 0x8000000}}
	if _, err := HeapRegion(u, 0xa0000, 1); err == nil {
		t.Error("base in a hole accepted")
	}
	if _, err := HeapRegion(u, 0x1000000, 1<<30); err == nil || !strings.Contains(err.Error(), "MiB") {
		t.Errorf("too small accepted: %v", err)
	}
	if _, err := HeapRegion(nil, 0, 1); err == nil {
		t.Error("no RAM accepted")
	}
}

func FuzzParseStartInfo(f *testing.F) {
	f.Add([]byte(buildBoot(1, "poweroff", qemuMicrovm2G)), uint64(0x1000))
	f.Add([]byte(buildBoot(0, "", nil)), uint64(0x1000))
	f.Add([]byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, mem []byte, addr uint64) {
		bi, err := ReadBootInfo(fakeMem(mem), addr)
		if err != nil {
			return
		}
		if len(bi.Cmdline) > MaxCmdlineLen || len(bi.Memmap) > MaxMemmapEntries {
			t.Fatalf("limits exceeded: %d, %d", len(bi.Cmdline), len(bi.Memmap))
		}
		checkUsable(t, bi.Memmap, UsableRAM(bi.Memmap))
	})
}

func FuzzUsableRAM(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, n uint32) {
		m, err := ParseMemmap(b, n)
		if err != nil {
			return
		}
		checkUsable(t, m, UsableRAM(m))
	})
}

// checkUsable asserts the invariants of UsableRAM's result: sorted, disjoint,
// page aligned, inside RAM entries and outside every other entry.
func checkUsable(t *testing.T, m []MemEntry, u []Region) {
	t.Helper()
	for i, r := range u {
		if r.Start >= r.End || r.Start%PageSize != 0 || r.End%PageSize != 0 {
			t.Fatalf("bad region %v", r)
		}
		if i > 0 && u[i-1].End >= r.Start {
			t.Fatalf("regions %v and %v not sorted and disjoint", u[i-1], r)
		}
		inRAM := false
		for _, e := range m {
			end := e.Addr + e.Size
			if end < e.Addr {
				end = ^uint64(0)
			}
			if e.Size == 0 {
				continue
			}
			if e.Type != MemRAM && e.Addr < r.End && end > r.Start {
				t.Fatalf("region %v overlaps %v entry at %#x+%#x", r, e.Type, e.Addr, e.Size)
			}
			if e.Type == MemRAM && e.Addr <= r.Start && end > r.Start {
				inRAM = true
			}
		}
		if !inRAM {
			t.Fatalf("region %v starts outside RAM", r)
		}
	}
}
