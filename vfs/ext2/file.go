package ext2

import (
	"fmt"
	"io"

	"damselfly/vfs"
)

// File data I/O. Reads take their byte range shared and writes exclusive (rangelock.go), so a
// read never sees part of a write; the block map is consulted under inode.mu, and the data
// transfer itself runs without it so disjoint writers overlap their I/O.

// readData reads from a regular file.
func (f *FS) readData(ip *inode, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ext2: read at %d: %w", off, vfs.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := off + int64(len(p))
	if end < off {
		end = wholeFile
	}
	tok := ip.rl.lock(off, end, false)
	defer ip.rl.unlock(tok)

	bs := f.geo.blockSize
	ip.mu.RLock()
	size := ip.raw.Size()
	if off >= size {
		ip.mu.RUnlock()
		return 0, io.EOF
	}
	if end > size {
		end = size
	}
	first, last := off/bs, (end-1)/bs
	pblks := make([]uint32, 0, last-first+1)
	for l := first; l <= last; l++ {
		pb, _, err := f.bmap(ip, uint64(l), false)
		if err != nil {
			ip.mu.RUnlock()
			return 0, fmt.Errorf("ext2: inode %d: %w", ip.ino, err)
		}
		pblks = append(pblks, pb)
	}
	ip.mu.RUnlock()

	// Transfer runs of physically contiguous blocks with one device read each; holes read as
	// zeros.
	n := int(end - off)
	buf := p[:n]
	for i := 0; i < len(pblks); {
		j := i + 1
		for j < len(pblks) && pblks[i] != 0 && pblks[j] == pblks[j-1]+1 {
			j++
		}
		runStart := (first + int64(i)) * bs // logical byte offset of the run
		runEnd := (first + int64(j)) * bs
		lo, hi := max(runStart, off), min(runEnd, end)
		dst := buf[lo-off : hi-off]
		if pblks[i] == 0 {
			clear(dst)
		} else {
			devOff := int64(pblks[i])*bs + (lo - runStart)
			if err := readFull(f.dev, dst, devOff); err != nil {
				return int(lo - off), fmt.Errorf("ext2: inode %d: %w", ip.ino, err)
			}
		}
		i = j
	}
	return n, nil
}

// segment is one block's share of a write.
type segment struct {
	pblk  uint32
	inOff int64 // offset inside the block
	data  []byte
	fresh bool
}

// writeData writes to a regular file, allocating blocks as needed.
func (f *FS) writeData(ip *inode, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ext2: write at %d: %w", off, vfs.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := off + int64(len(p))
	if end > f.maxFileSize() || end < off {
		return 0, fmt.Errorf("ext2: write to %d: %w", end, vfs.EFBIG)
	}
	// The exclusive range is widened to whole blocks: a write that allocates a block writes
	// all of it (zero padding), which must not race another writer's bytes in that block.
	bs := f.geo.blockSize
	lockEnd := (end + bs - 1) / bs * bs
	if lockEnd < end {
		lockEnd = wholeFile
	}
	tok := ip.rl.lock(off/bs*bs, lockEnd, true)
	defer ip.rl.unlock(tok)

	written := 0
	var werr error
	// Map and write in batches so memory stays bounded for huge writes.
	const batch = 256
	segs := make([]segment, 0, batch)
	for pos := off; pos < end && werr == nil; {
		segs = segs[:0]
		ip.mu.Lock()
		for pos < end && len(segs) < batch {
			l := pos / bs
			in := pos % bs
			n := min(bs-in, end-pos)
			pb, fresh, err := f.bmap(ip, uint64(l), true)
			if err != nil {
				werr = err
				break
			}
			segs = append(segs, segment{pblk: pb, inOff: in, data: p[pos-off : pos-off+n], fresh: fresh})
			pos += n
		}
		ip.mu.Unlock()
		n, err := f.writeSegments(segs)
		written += n
		if err != nil {
			werr = err
		}
	}

	ip.mu.Lock()
	defer ip.mu.Unlock()
	if newEnd := off + int64(written); newEnd > ip.raw.Size() {
		ip.raw.setSize(newEnd)
		if newEnd > 1<<31-1 {
			f.setLargeFile()
		}
	}
	now := uint32(f.now().Unix())
	ip.raw.setMtime(now)
	ip.raw.setCtime(now)
	if err := f.writeInode(ip); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return written, fmt.Errorf("ext2: inode %d: %w", ip.ino, werr)
	}
	return written, nil
}

// writeSegments writes mapped segments, merging physically contiguous whole blocks into one
// device write; a fresh block written only in part is padded with zeros.
func (f *FS) writeSegments(segs []segment) (int, error) {
	bs := f.geo.blockSize
	written := 0
	for i := 0; i < len(segs); {
		s := segs[i]
		if s.fresh && int64(len(s.data)) < bs {
			blk := make([]byte, bs)
			copy(blk[s.inOff:], s.data)
			if _, err := f.dev.WriteAt(blk, int64(s.pblk)*bs); err != nil {
				return written, err
			}
			written += len(s.data)
			i++
			continue
		}
		// Extend the run while the next segment continues it on disk and in the buffer.
		j := i + 1
		for j < len(segs) && segs[j].pblk == segs[j-1].pblk+1 && segs[j-1].inOff+int64(len(segs[j-1].data)) == bs &&
			segs[j].inOff == 0 && !(segs[j].fresh && int64(len(segs[j].data)) < bs) {
			j++
		}
		n := 0
		for k := i; k < j; k++ {
			n += len(segs[k].data)
		}
		// Segments of one write are consecutive slices of the caller's buffer.
		var run []byte
		if cap(s.data) >= n {
			run = s.data[:n]
		} else {
			run = make([]byte, 0, n)
			for k := i; k < j; k++ {
				run = append(run, segs[k].data...)
			}
		}
		if _, err := f.dev.WriteAt(run, int64(s.pblk)*bs+s.inOff); err != nil {
			return written, err
		}
		written += n
		i = j
	}
	return written, nil
}

// truncate sets a regular file's size, freeing blocks past it and zeroing the tail of the
// last partial block so that a later extension reads zeros.
func (f *FS) truncate(ip *inode, size int64) error {
	if size < 0 || size > f.maxFileSize() {
		return fmt.Errorf("ext2: truncate to %d: %w", size, vfs.EINVAL)
	}
	tok := ip.rl.lock(0, wholeFile, true)
	defer ip.rl.unlock(tok)
	ip.mu.Lock()
	defer ip.mu.Unlock()
	bs := f.geo.blockSize
	old := ip.raw.Size()
	if size == old {
		return nil // POSIX: times change only when the size does
	}
	if size < old {
		if tail := size % bs; tail != 0 {
			pb, _, err := f.bmap(ip, uint64(size/bs), false)
			if err != nil {
				return err
			}
			if pb != 0 {
				if _, err := f.dev.WriteAt(make([]byte, bs-tail), int64(pb)*bs+tail); err != nil {
					return fmt.Errorf("ext2: inode %d: zero tail: %w", ip.ino, err)
				}
			}
		}
		if err := f.truncateBlocks(ip, size); err != nil {
			return err
		}
	}
	ip.raw.setSize(size)
	if size > 1<<31-1 {
		f.setLargeFile()
	}
	now := uint32(f.now().Unix())
	ip.raw.setMtime(now)
	ip.raw.setCtime(now)
	return f.writeInode(ip)
}
