package board

import (
	"errors"
	"testing"
)

// fakeTables is page table memory: pages by physical address.
type fakeTables struct {
	pages map[uint64]*[512]uint64
	next  uint64
	limit int
}

func newFakeTables() *fakeTables {
	return &fakeTables{pages: map[uint64]*[512]uint64{}, next: 0x100000, limit: 100}
}

func (f *fakeTables) page(p uint64) *[512]uint64 {
	pg, ok := f.pages[p]
	if !ok {
		panic("access to a page that is not a page table")
	}
	return pg
}

func (f *fakeTables) Entry(p uint64, i int) uint64       { return f.page(p)[i] }
func (f *fakeTables) SetEntry(p uint64, i int, v uint64) { f.page(p)[i] = v }

func (f *fakeTables) alloc() (uint64, error) {
	if len(f.pages) >= f.limit {
		return 0, errors.New("out of pages")
	}
	p := f.next
	f.next += 0x1000
	f.pages[p] = &[512]uint64{}
	return p, nil
}

// bootTables mimics cpuinit: PML4[0] -> PDPT, 64 PDs of 2 MiB pages.
func bootTables(f *fakeTables) *PageTables {
	pt := &PageTables{Mem: f, Alloc: f.alloc}
	pt.Root, _ = f.alloc()
	pdpt, _ := f.alloc()
	f.SetEntry(pt.Root, 0, pdpt|3)
	for g := 0; g < 64; g++ {
		pd, _ := f.alloc()
		f.SetEntry(pdpt, g, pd|3)
		for j := 0; j < 512; j++ {
			f.SetEntry(pd, j, uint64(g)<<30|uint64(j)<<21|0x83)
		}
	}
	return pt
}

func TestMapDevice(t *testing.T) {
	f := newFakeTables()
	f.limit = 200
	pt := bootTables(f)
	for _, tt := range []struct {
		addr, size uint64
		newPages   int
	}{
		{0xfebf8000, 0x4000, 0},                // in the boot map: untouched
		{0x20_0000_0000, 0x4000, 1},            // 128 GiB: a new PD
		{0x20_0010_0000, 0x300000, 0},          // the same PD, two pages
		{0x3f_ffe0_0000 + 0x1000, 0x200000, 2}, // GiB 255 and 256: two new PDs
		{0x3fff_ffe0_0000, 0x4000, 2},          // 64 TiB - 2 MiB: PML4 slot 127, new PDPT and PD
	} {
		n := len(f.pages)
		if err := pt.MapDevice(tt.addr, tt.size); err != nil {
			t.Fatalf("%#x: %v", tt.addr, err)
		}
		if got := len(f.pages) - n; got != tt.newPages {
			t.Errorf("%#x: %d new table pages, want %d", tt.addr, got, tt.newPages)
		}
		for _, a := range []uint64{tt.addr, tt.addr + tt.size - 1} {
			phys, uc, ok := pt.Translate(a)
			if !ok || phys != a {
				t.Errorf("%#x translates to %#x ok=%v", a, phys, ok)
			}
			if a >= 64<<30 && !uc {
				t.Errorf("%#x mapped cached", a)
			}
		}
	}
	if _, _, ok := pt.Translate(0x20_0080_0000); ok {
		t.Error("a page nobody asked for is mapped")
	}
	if phys, uc, ok := pt.Translate(0x1234567); !ok || phys != 0x1234567 || uc {
		t.Errorf("boot map disturbed: %#x %v %v", phys, uc, ok)
	}
}

func TestMapDeviceErrors(t *testing.T) {
	f := newFakeTables()
	pt := bootTables(f)
	// a PDE mapping other memory
	pdpt := f.Entry(pt.Root, 0) & pteAddrMask
	pd := f.Entry(pdpt, 3) & pteAddrMask
	f.SetEntry(pd, 5, 0x40000000|0x83)
	if err := pt.MapDevice(3<<30+5<<21, 0x1000); !errors.Is(err, errRemapped) {
		t.Errorf("remap: %v", err)
	}
	// a 1 GiB page on the way
	f.SetEntry(pdpt, 70, 70<<30|0x83)
	if err := pt.MapDevice(70<<30, 0x1000); err == nil {
		t.Error("walked through a 1 GiB page")
	}
	for _, r := range [][2]uint64{{0, 0}, {^uint64(0) - 10, 100}, {1 << 52, 0x1000}} {
		if err := pt.MapDevice(r[0], r[1]); err == nil {
			t.Errorf("[%#x+%#x) mapped", r[0], r[1])
		}
	}
	f.limit = len(f.pages)
	if err := pt.MapDevice(0x100_0000_0000, 0x1000); err == nil {
		t.Error("mapped without table pages")
	}
	// the allocator must hand out aligned pages
	pt.Alloc = func() (uint64, error) { return 0x1234, nil }
	if err := pt.MapDevice(0x200_0000_0000, 0x1000); err == nil {
		t.Error("unaligned table page accepted")
	}
}
