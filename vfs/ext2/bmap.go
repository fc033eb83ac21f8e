package ext2

import (
	"fmt"

	"damselfly/vfs"
)

// The classic ext2 block map: twelve direct pointers, then single, double and triple indirect
// blocks of 32-bit block numbers. A zero pointer is a hole (sparse file).

// mapPath splits logical block lblk into the i_block slot and the indexes inside each
// indirect level.
func (f *FS) mapPath(lblk uint64) (slot int, idx [3]uint32, depth int, err error) {
	apb := uint64(f.geo.addrPerBlock)
	if lblk < nDirect {
		return int(lblk), idx, 0, nil
	}
	lblk -= nDirect
	if lblk < apb {
		idx[0] = uint32(lblk)
		return indBlock, idx, 1, nil
	}
	lblk -= apb
	if lblk < apb*apb {
		idx[0], idx[1] = uint32(lblk/apb), uint32(lblk%apb)
		return dindBlock, idx, 2, nil
	}
	lblk -= apb * apb
	if lblk < apb*apb*apb {
		idx[0], idx[1], idx[2] = uint32(lblk/(apb*apb)), uint32((lblk/apb)%apb), uint32(lblk%apb)
		return tindBlock, idx, 3, nil
	}
	return 0, idx, 0, fmt.Errorf("ext2: logical block %d beyond triple indirect: %w", lblk, vfs.EFBIG)
}

// maxBlocks is the number of logical blocks the map can address.
func (f *FS) maxBlocks() uint64 {
	apb := uint64(f.geo.addrPerBlock)
	return nDirect + apb + apb*apb + apb*apb*apb
}

// maxFileSize caps files at what the map addresses and at 1 TiB, which keeps i_blocks (512-byte
// units in 32 bits) from overflowing on a fully allocated file.
func (f *FS) maxFileSize() int64 {
	m := int64(f.maxBlocks()) * f.geo.blockSize
	if m > 1<<40 {
		m = 1 << 40
	}
	return m
}

func (f *FS) checkPtr(ip *inode, b uint32) error {
	if b != 0 && (b < f.geo.firstDataBlock || b >= f.geo.blocksCount) {
		return corrupt("inode %d: block pointer %d outside filesystem", ip.ino, b)
	}
	return nil
}

// bmap returns the physical block of logical block lblk, 0 for a hole. With alloc, holes are
// filled (intermediate indirect blocks zeroed on disk) and fresh reports a new data block whose
// content the caller must write in full. ip.mu held, exclusively if alloc.
func (f *FS) bmap(ip *inode, lblk uint64, alloc bool) (pblk uint32, fresh bool, err error) {
	slot, idx, depth, err := f.mapPath(lblk)
	if err != nil {
		return 0, false, err
	}
	ptr := ip.raw.Block(slot)
	if err := f.checkPtr(ip, ptr); err != nil {
		return 0, false, err
	}
	if ptr == 0 {
		if !alloc {
			return 0, false, nil
		}
		if ptr, err = f.allocFor(ip, depth > 0); err != nil {
			return 0, false, err
		}
		ip.raw.setBlock(slot, ptr)
		fresh = depth == 0
	}
	for level := 0; level < depth; level++ {
		blk, err := f.bc.read(ptr)
		if err != nil {
			return 0, false, err
		}
		off := int(idx[level]) * 4
		next := le32(blk, off)
		if err := f.checkPtr(ip, next); err != nil {
			return 0, false, err
		}
		if next == 0 {
			if !alloc {
				return 0, false, nil
			}
			if next, err = f.allocFor(ip, level < depth-1); err != nil {
				return 0, false, err
			}
			var p [4]byte
			put32(p[:], 0, next)
			if err := f.bc.writePart(ptr, off, p[:]); err != nil {
				return 0, false, err
			}
			fresh = level == depth-1
		}
		ptr = next
	}
	return ptr, fresh, nil
}

// allocFor allocates a block for ip near its last allocation, counting it in i_blocks; an
// indirect block is zeroed on disk before it is linked.
func (f *FS) allocFor(ip *inode, indirect bool) (uint32, error) {
	goal := ip.lastAlloc + 1
	if ip.lastAlloc == 0 {
		goal = f.geo.firstDataBlock + f.inodeGroup(ip.ino)*f.geo.blocksPerGroup
	}
	b, err := f.allocBlock(goal)
	if err != nil {
		return 0, err
	}
	ip.lastAlloc = b
	if indirect {
		if err := f.bc.write(b, make([]byte, f.geo.blockSize)); err != nil {
			return 0, err
		}
	}
	ip.raw.setBlocks(ip.raw.Blocks() + uint32(f.geo.blockSize/512))
	return b, nil
}

// truncateBlocks frees every block at or past logical block ceil(size/bs), including indirect
// blocks left empty. ip.mu held exclusively; the caller writes the inode.
func (f *FS) truncateBlocks(ip *inode, size int64) error {
	bs := f.geo.blockSize
	keep := uint64((size + bs - 1) / bs)
	apb := uint64(f.geo.addrPerBlock)
	spans := [4]uint64{1, apb, apb * apb, apb * apb * apb}
	bases := [nBlockPtr]uint64{}
	for i := 0; i < nDirect; i++ {
		bases[i] = uint64(i)
	}
	bases[indBlock] = nDirect
	bases[dindBlock] = nDirect + apb
	bases[tindBlock] = nDirect + apb + apb*apb
	freed := uint32(0)
	for slot := 0; slot < nBlockPtr; slot++ {
		ptr := ip.raw.Block(slot)
		if ptr == 0 {
			continue
		}
		depth := 0
		switch slot {
		case indBlock:
			depth = 1
		case dindBlock:
			depth = 2
		case tindBlock:
			depth = 3
		}
		if bases[slot]+spans[depth] <= keep {
			continue
		}
		gone, n, err := f.freeTree(ip, ptr, depth, bases[slot], keep, &spans)
		freed += n
		if err != nil {
			ip.raw.setBlocks(ip.raw.Blocks() - min(freed, ip.raw.Blocks()))
			return err
		}
		if gone {
			ip.raw.setBlock(slot, 0)
		}
	}
	per := uint32(bs / 512)
	ip.raw.setBlocks(ip.raw.Blocks() - min(freed*per, ip.raw.Blocks()))
	ip.lastAlloc = 0
	return nil
}

// freeTree frees the part of the subtree at ptr (covering logical blocks from base) that lies
// at or past keep. It reports whether ptr itself was freed and how many blocks were freed.
// Recursion depth is at most three.
func (f *FS) freeTree(ip *inode, ptr uint32, depth int, base, keep uint64, spans *[4]uint64) (bool, uint32, error) {
	if err := f.checkPtr(ip, ptr); err != nil {
		return false, 0, err
	}
	if depth == 0 {
		if base < keep {
			return false, 0, nil
		}
		return true, 1, f.freeBlock(ptr)
	}
	blk, err := f.bc.readCopy(ptr)
	if err != nil {
		return false, 0, err
	}
	span := spans[depth-1]
	freed := uint32(0)
	changed := false
	for i := uint32(0); i < f.geo.addrPerBlock; i++ {
		child := le32(blk, int(i)*4)
		childBase := base + uint64(i)*span
		if child == 0 || childBase+span <= keep {
			continue
		}
		gone, n, err := f.freeTree(ip, child, depth-1, childBase, keep, spans)
		freed += n
		if err != nil {
			return false, freed, err
		}
		if gone {
			put32(blk, int(i)*4, 0)
			changed = true
		}
	}
	if base >= keep {
		return true, freed + 1, f.freeBlock(ptr)
	}
	if changed {
		if err := f.bc.write(ptr, blk); err != nil {
			return false, freed, err
		}
	}
	return false, freed, nil
}
