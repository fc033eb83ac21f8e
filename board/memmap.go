// Usable RAM from a memory map: the RAM entries, minus anything any other
// entry claims (a reserved range inside RAM wins), page aligned, sorted and
// merged. The runtime heap is then the usable region that holds the kernel
// image; the rest (including RAM above the 4 GiB PCI hole) is reported for
// page allocators that come later.

package board

import (
	"errors"
	"fmt"
	"sort"
)

// PageSize is the granule of usable regions.
const PageSize = 4096

// Region is a half-open physical range [Start, End).
type Region struct {
	Start, End uint64
}

func (r Region) Size() uint64 { return r.End - r.Start }

func (r Region) String() string { return fmt.Sprintf("[%#x-%#x)", r.Start, r.End) }

// UsableRAM computes the usable regions of a memory map. Entries whose end
// overflows 64 bits are clipped.
func UsableRAM(m []MemEntry) []Region {
	var ram, holes []Region
	for _, e := range m {
		if e.Size == 0 {
			continue
		}
		end := e.Addr + e.Size
		if end < e.Addr {
			end = ^uint64(0)
		}
		r := Region{e.Addr, end}
		if e.Type == MemRAM {
			ram = append(ram, r)
		} else {
			holes = append(holes, r)
		}
	}
	ram = mergeRegions(ram)
	holes = mergeRegions(holes)
	var out []Region
	for _, r := range ram {
		for _, piece := range subtract(r, holes) {
			s := alignUp(piece.Start)
			e := piece.End &^ (PageSize - 1)
			if s < e {
				out = append(out, Region{s, e})
			}
		}
	}
	return out
}

func alignUp(a uint64) uint64 {
	if a > ^uint64(0)-(PageSize-1) {
		return ^uint64(0) &^ (PageSize - 1)
	}
	return (a + PageSize - 1) &^ (PageSize - 1)
}

// mergeRegions sorts and coalesces overlapping or touching regions.
func mergeRegions(rs []Region) []Region {
	if len(rs) == 0 {
		return nil
	}
	rs = append([]Region(nil), rs...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	out := []Region{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.Start <= last.End {
			if r.End > last.End {
				last.End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// subtract removes the sorted, disjoint holes from r.
func subtract(r Region, holes []Region) []Region {
	var out []Region
	cur := r.Start
	for _, h := range holes {
		if h.End <= cur || h.Start >= r.End {
			continue
		}
		if h.Start > cur {
			out = append(out, Region{cur, h.Start})
		}
		if h.End > cur {
			cur = h.End
		}
		if cur >= r.End {
			return out
		}
	}
	if cur < r.End {
		out = append(out, Region{cur, r.End})
	}
	return out
}

// TotalSize sums region sizes.
func TotalSize(rs []Region) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Size()
	}
	return n
}

// HeapRegion returns the usable region that contains [start, start+min):
// the runtime's heap must be one contiguous range beginning at its RamStart.
func HeapRegion(rs []Region, start, min uint64) (Region, error) {
	for _, r := range rs {
		if start >= r.Start && start < r.End {
			if r.End-start < min {
				return Region{}, fmt.Errorf("memmap: only %d MiB usable from %#x, kernel needs %d MiB",
					(r.End-start)>>20, start, min>>20)
			}
			return Region{start, r.End}, nil
		}
	}
	if len(rs) == 0 {
		return Region{}, errors.New("memmap: no usable RAM")
	}
	return Region{}, fmt.Errorf("memmap: kernel base %#x is not in usable RAM %v", start, rs)
}

// ExtraHeap picks the usable regions the heap can have besides its own block:
// those starting at or above above (the end of that block and what sits on
// it, such as the DMA window), cut at limit (the end of the identity map,
// beyond which nothing is addressable). It returns them and the usable RAM
// left out past limit.
func ExtraHeap(usable []Region, above, limit uint64) (extra, beyond []Region) {
	for _, r := range usable {
		if r.Start < above {
			continue
		}
		if r.End > limit {
			cut := max(r.Start, limit)
			beyond = append(beyond, Region{cut, r.End})
			r.End = cut
		}
		if r.Start < r.End {
			extra = append(extra, r)
		}
	}
	return extra, beyond
}
