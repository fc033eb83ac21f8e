package blk

import "sort"

// merge turns a batch of queued bios (no flushes) into driver requests:
// sorted by offset, adjacent bios of the same op (read or write) become
// one request while it stays within the driver's limits. Overlapping bios
// are never merged; their relative completion order is unspecified, as for
// any bios in flight at the same time (the object's range locks order
// overlapping I/O above this layer).
func merge(bios []*Bio, lim Limits) []*Request {
	sort.SliceStable(bios, func(i, j int) bool {
		if bios[i].Op != bios[j].Op {
			return bios[i].Op < bios[j].Op
		}
		return bios[i].Off < bios[j].Off
	})
	var reqs []*Request
	var cur *Request
	for _, b := range bios {
		n := b.length()
		if cur != nil && canMerge(cur, b, n, lim) {
			cur.Len += n
			cur.Segs = append(cur.Segs, b.Buf)
			cur.bios = append(cur.bios, b)
			continue
		}
		cur = &Request{Op: b.Op, Off: b.Off, Len: n, bios: []*Bio{b}}
		if b.Op == OpRead || b.Op == OpWrite {
			cur.Segs = [][]byte{b.Buf}
		}
		reqs = append(reqs, cur)
	}
	return reqs
}

func canMerge(r *Request, b *Bio, n int64, lim Limits) bool {
	if r.Op != b.Op || (b.Op != OpRead && b.Op != OpWrite) {
		return false
	}
	if r.Off+r.Len != b.Off {
		return false
	}
	if lim.MaxTransfer > 0 && r.Len+n > lim.MaxTransfer {
		return false
	}
	if lim.MaxSegments > 0 && len(r.Segs)+1 > lim.MaxSegments {
		return false
	}
	return true
}
