// Device windows outside the boot identity map (board/pagemap.go): table
// pages come from the Go heap, which is identity-mapped, and are kept
// referenced for good, since the MMU reads them and the garbage collector
// does not know.

//go:build tamago && amd64

package microvm

import (
	"fmt"
	"sync"
	"unsafe"

	"damselfly/board"
)

// mmuMu serialises changes to the page tables; tablePages keeps the pages
// added so far alive. Both are owned by PhysWindow.
var (
	mmuMu      sync.Mutex
	tablePages [][]byte
)

// tableMem is page table memory, identity-mapped.
type tableMem struct{}

func (tableMem) Entry(page uint64, i int) uint64 {
	return *(*uint64)(unsafe.Pointer(uintptr(page) + uintptr(i)*8))
}

func (tableMem) SetEntry(page uint64, i int, v uint64) {
	*(*uint64)(unsafe.Pointer(uintptr(page) + uintptr(i)*8)) = v
}

func allocTablePage() (uint64, error) {
	b := make([]byte, 2*board.PageSize) // zeroed; one aligned page inside
	a := (uint64(uintptr(unsafe.Pointer(&b[0]))) + board.PageSize - 1) &^ (board.PageSize - 1)
	if a >= mappedLimit {
		return 0, fmt.Errorf("table page at %#x outside the boot map", a)
	}
	tablePages = append(tablePages, b)
	return a, nil
}

// PhysWindow returns the address at which the physical range [addr,
// addr+size) of device memory can be accessed. Below the end of the boot
// map it is there already (uncached in the 3-4 GiB window, write-back
// elsewhere: device accesses trap to the VMM either way); above, the range
// is identity-mapped uncached first. Adding entries needs no TLB shootdown:
// no CPU caches a translation that was not present.
func PhysWindow(addr, size uint64) (uintptr, error) {
	if addr == 0 || size == 0 || addr+size < addr {
		return 0, fmt.Errorf("bad physical range [%#x+%#x)", addr, size)
	}
	if addr+size <= mappedLimit {
		return uintptr(addr), nil
	}
	mmuMu.Lock()
	defer mmuMu.Unlock()
	pt := board.PageTables{Root: readCR3() &^ (board.PageSize - 1), Mem: tableMem{}, Alloc: allocTablePage}
	if err := pt.MapDevice(addr, size); err != nil {
		return 0, err
	}
	return uintptr(addr), nil
}
