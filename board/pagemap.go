// Identity mappings for device memory added after boot. cpuinit maps the
// first 64 GiB; a VMM may put PCI BARs anywhere below its physical address
// limit (Cloud Hypervisor allocates 64-bit BARs from the top of its device
// area; SeaBIOS moves them above 4 GiB when the 32-bit window is full), so
// a driver maps its BAR before touching it.
//
// Layout of 4-level paging from the AMD64 APM vol. 2, 5.3.3 "4-Kbyte and
// 2-Mbyte page translation" (Intel SDM vol. 3A, 4.5): 9 bits of index per
// level, 2 MiB pages in the page directory with PS set. Device pages are
// uncached (PCD and PWT: PAT entry 3, UC, at its power-on value).

package board

import (
	"errors"
	"fmt"
)

// Page table entry bits.
const (
	PTEPresent = 1 << 0
	PTEWrite   = 1 << 1
	PTEPWT     = 1 << 3
	PTEPCD     = 1 << 4
	PTEPS      = 1 << 7 // in a PDPTE or PDE: a 1 GiB or 2 MiB page

	pteAddrMask = 0x000f_ffff_ffff_f000
	LargePage   = 2 << 20
	maxPhysAddr = 1 << 52 // the architectural limit (MAXPHYADDR <= 52)
)

// TableMem reads and writes 8-byte entries of page table pages, each
// named by its physical address.
type TableMem interface {
	Entry(page uint64, i int) uint64
	SetEntry(page uint64, i int, v uint64)
}

// PageTables adds identity mappings to the tables rooted at Root (the PML4
// CR3 points to). Alloc returns a zeroed, 4 KiB-aligned page that stays
// allocated for good (the hardware reads it).
type PageTables struct {
	Root  uint64
	Mem   TableMem
	Alloc func() (uint64, error)
}

// MapDevice identity-maps [addr, addr+size) uncached, in whole 2 MiB
// pages. Pages already mapped to themselves are left as they are (the boot
// map's attributes stand); a page mapped elsewhere, or a 1 GiB page on the
// way, is an error: this kernel never builds either.
func (pt *PageTables) MapDevice(addr, size uint64) error {
	if size == 0 || addr+size < addr || addr+size > maxPhysAddr {
		return fmt.Errorf("pagemap: cannot map [%#x+%#x)", addr, size)
	}
	start := addr &^ (LargePage - 1)
	end := (addr + size + LargePage - 1) &^ (LargePage - 1)
	for a := start; a < end; a += LargePage {
		if err := pt.map2M(a); err != nil {
			return err
		}
	}
	return nil
}

// next returns the table an entry of page points to, allocating it when
// the entry is empty.
func (pt *PageTables) next(page uint64, i int, level string) (uint64, error) {
	e := pt.Mem.Entry(page, i)
	if e&PTEPresent != 0 {
		if e&PTEPS != 0 {
			return 0, fmt.Errorf("pagemap: %s entry %d is a large page", level, i)
		}
		return e & pteAddrMask, nil
	}
	t, err := pt.Alloc()
	if err != nil {
		return 0, fmt.Errorf("pagemap: %s table: %w", level, err)
	}
	if t&^pteAddrMask != 0 || t == 0 {
		return 0, fmt.Errorf("pagemap: allocator returned %#x", t)
	}
	pt.Mem.SetEntry(page, i, t|PTEPresent|PTEWrite)
	return t, nil
}

var errRemapped = errors.New("pagemap: page already maps other memory")

func (pt *PageTables) map2M(a uint64) error {
	pdpt, err := pt.next(pt.Root, int(a>>39)&511, "PML4")
	if err != nil {
		return err
	}
	pd, err := pt.next(pdpt, int(a>>30)&511, "PDPT")
	if err != nil {
		return err
	}
	i := int(a>>21) & 511
	e := pt.Mem.Entry(pd, i)
	if e&PTEPresent != 0 {
		if e&PTEPS == 0 || e&pteAddrMask != a {
			return fmt.Errorf("%w: %#x (entry %#x)", errRemapped, a, e)
		}
		return nil
	}
	pt.Mem.SetEntry(pd, i, a|PTEPresent|PTEWrite|PTEPS|PTEPCD|PTEPWT)
	return nil
}

// Translate walks the tables for addr, as the MMU would: the physical
// address and whether the page is uncached (for tests and diagnostics).
func (pt *PageTables) Translate(addr uint64) (phys uint64, uncached, ok bool) {
	t := pt.Root
	for _, shift := range []uint{39, 30, 21, 12} {
		e := pt.Mem.Entry(t, int(addr>>shift)&511)
		if e&PTEPresent == 0 {
			return 0, false, false
		}
		if shift != 39 && (e&PTEPS != 0 || shift == 12) {
			mask := uint64(1)<<shift - 1
			return e&pteAddrMask&^mask | addr&mask, e&PTEPCD != 0, true
		}
		t = e & pteAddrMask
	}
	return 0, false, false
}
