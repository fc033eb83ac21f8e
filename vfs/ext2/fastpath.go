package ext2

import (
	"io"

	"damselfly/vfs"
)

// The opportunistic fast path (vfs.TryFaster): a read whose inode is in memory, whose block
// map is in the metadata cache and whose data pages are resident in the device's VM object
// completes in the caller's context, never touching the disk and never waiting for a lock.
// Anything missing sends the message to the filesystem threads instead.

// CachedReader is implemented by devices that can serve a read from memory without blocking
// (VMDevice, through vm.Object.ReadCached).
type CachedReader interface {
	ReadCached(p []byte, off int64) bool
}

// ReadCached copies [off, off+len(p)) if every page is resident.
func (d VMDevice) ReadCached(p []byte, off int64) bool { return d.Obj.ReadCached(p, off) }

var _ vfs.TryFaster = (*FS)(nil)

// TryFastPath attempts a cached read (see above).
func (f *FS) TryFastPath(m *vfs.Msg) bool {
	if m.Op != vfs.OpRead || m.Off < 0 || len(m.Buf) == 0 {
		return false
	}
	cr, ok := f.dev.(CachedReader)
	if !ok {
		return false
	}
	ip := f.igetCached(toIno(m.Ino))
	if ip == nil {
		return false
	}
	defer f.iput(ip)
	n, err, done := f.tryRead(ip, cr, m.Buf, m.Off)
	if done {
		m.N, m.Err = n, err
	}
	return done
}

// igetCached references an inode only if it is already in memory.
func (f *FS) igetCached(ino uint32) *inode {
	f.icMu.Lock()
	defer f.icMu.Unlock()
	ip := f.icache[ino]
	if ip != nil {
		ip.refs++
	}
	return ip
}

// bmapCached is bmap without allocation that gives up (ok false) instead of reading an
// indirect block from the disk. ip.mu held.
func (f *FS) bmapCached(ip *inode, lblk uint64) (pblk uint32, ok bool) {
	slot, idx, depth, err := f.mapPath(lblk)
	if err != nil {
		return 0, false
	}
	ptr := ip.raw.Block(slot)
	if f.checkPtr(ip, ptr) != nil {
		return 0, false
	}
	for level := 0; level < depth && ptr != 0; level++ {
		blk, hit := f.bc.peek(ptr)
		if !hit {
			return 0, false
		}
		ptr = le32(blk, int(idx[level])*4)
		if f.checkPtr(ip, ptr) != nil {
			return 0, false
		}
	}
	return ptr, true
}

func (f *FS) tryRead(ip *inode, cr CachedReader, p []byte, off int64) (int, error, bool) {
	end := off + int64(len(p))
	if end < off {
		return 0, nil, false
	}
	tok, ok := ip.rl.tryLock(off, end, false)
	if !ok {
		return 0, nil, false
	}
	defer ip.rl.unlock(tok)
	if !ip.mu.TryRLock() {
		return 0, nil, false
	}
	if ip.raw.Mode()&sIFMT != sIFREG {
		ip.mu.RUnlock()
		return 0, nil, false
	}
	size := ip.raw.Size()
	if off >= size {
		ip.mu.RUnlock()
		return 0, io.EOF, true
	}
	end = min(end, size)
	bs := f.geo.blockSize
	first, last := off/bs, (end-1)/bs
	if last-first >= 1024 { // large reads are not worth an all-or-nothing attempt
		ip.mu.RUnlock()
		return 0, nil, false
	}
	var pblks [1024]uint32
	for l := first; l <= last; l++ {
		pb, ok := f.bmapCached(ip, uint64(l))
		if !ok {
			ip.mu.RUnlock()
			return 0, nil, false
		}
		pblks[l-first] = pb
	}
	ip.mu.RUnlock()
	n := int(end - off)
	for l := first; l <= last; l++ {
		lo, hi := max(l*bs, off), min((l+1)*bs, end)
		dst := p[lo-off : hi-off]
		pb := pblks[l-first]
		if pb == 0 {
			clear(dst)
			continue
		}
		if !cr.ReadCached(dst, int64(pb)*bs+(lo-l*bs)) {
			return 0, nil, false
		}
	}
	return n, nil, true
}
