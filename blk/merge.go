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
		b.parts.Store(1)
		b.partErr.Store(nil)
		if (b.Op == OpRead || b.Op == OpWrite) && tooBig(b, n, lim) {
			parts := split(b, lim)
			b.parts.Store(int32(len(parts)))
			reqs = append(reqs, parts...)
			cur = nil
			continue
		}
		if cur != nil && canMerge(cur, b, n, lim) {
			cur.Len += n
			cur.Segs = append(cur.Segs, b.segs()...)
			cur.bios = append(cur.bios, b)
			continue
		}
		cur = &Request{Op: b.Op, Off: b.Off, Len: n, CPU: b.CPU, bios: []*Bio{b}}
		if b.Op == OpRead || b.Op == OpWrite {
			cur.Segs = append([][]byte(nil), b.segs()...)
		}
		reqs = append(reqs, cur)
	}
	return reqs
}

// tooBig reports whether one bio alone exceeds a request's limits (a long
// page list). A single segment larger than MaxTransfer is not split: the
// limit only bounds merging and page lists.
func tooBig(b *Bio, n int64, lim Limits) bool {
	segs := len(b.segs())
	return (lim.MaxSegments > 0 && segs > lim.MaxSegments) || (segs > 1 && lim.MaxTransfer > 0 && n > lim.MaxTransfer)
}

// split cuts a bio's segment list into requests within the limits, at
// segment boundaries.
func split(b *Bio, lim Limits) []*Request {
	var reqs []*Request
	var cur *Request
	off := b.Off
	for _, s := range b.segs() {
		n := int64(len(s))
		if cur == nil || (lim.MaxSegments > 0 && len(cur.Segs) >= lim.MaxSegments) ||
			(lim.MaxTransfer > 0 && cur.Len+n > lim.MaxTransfer) {
			cur = &Request{Op: b.Op, Off: off, CPU: b.CPU, bios: []*Bio{b}}
			reqs = append(reqs, cur)
		}
		cur.Segs = append(cur.Segs, s)
		cur.Len += n
		off += n
	}
	return reqs
}

func canMerge(r *Request, b *Bio, n int64, lim Limits) bool {
	if r.Op != b.Op || (b.Op != OpRead && b.Op != OpWrite) {
		return false
	}
	if r.Off+r.Len != b.Off || len(r.bios) == 1 && r.bios[0].parts.Load() > 1 {
		return false
	}
	if lim.MaxTransfer > 0 && r.Len+n > lim.MaxTransfer {
		return false
	}
	if lim.MaxSegments > 0 && len(r.Segs)+len(b.segs()) > lim.MaxSegments {
		return false
	}
	return true
}
