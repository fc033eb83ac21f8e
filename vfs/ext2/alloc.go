package ext2

import (
	"fmt"

	"damselfly/vfs"
)

// Block and inode allocation over the per-group bitmaps. Bitmaps are loaded on first use and
// written back by Sync; the free counts in the group descriptors and the superblock change in
// the same critical section as the bit, so they never disagree with the bitmaps.

func (f *FS) blockBitmap(g uint32) ([]byte, error) {
	if f.bbitmap[g] == nil {
		b := make([]byte, f.geo.blockSize)
		if err := readFull(f.dev, b, int64(f.desc(g).BlockBitmap())*f.geo.blockSize); err != nil {
			return nil, fmt.Errorf("ext2: block bitmap of group %d: %w", g, err)
		}
		f.bbitmap[g] = b
	}
	return f.bbitmap[g], nil
}

func (f *FS) inodeBitmap(g uint32) ([]byte, error) {
	if f.ibitmap[g] == nil {
		b := make([]byte, f.geo.blockSize)
		if err := readFull(f.dev, b, int64(f.desc(g).InodeBitmap())*f.geo.blockSize); err != nil {
			return nil, fmt.Errorf("ext2: inode bitmap of group %d: %w", g, err)
		}
		f.ibitmap[g] = b
	}
	return f.ibitmap[g], nil
}

func testBit(b []byte, i uint32) bool { return b[i/8]&(1<<(i%8)) != 0 }
func setBit(b []byte, i uint32)       { b[i/8] |= 1 << (i % 8) }
func clearBit(b []byte, i uint32)     { b[i/8] &^= 1 << (i % 8) }

// allocBlock allocates one block, preferring goal and the blocks after it.
func (f *FS) allocBlock(goal uint32) (uint32, error) {
	f.allocMu.Lock()
	defer f.allocMu.Unlock()
	geo := &f.geo
	if goal < geo.firstDataBlock || goal >= geo.blocksCount {
		goal = geo.firstDataBlock
	}
	start := (goal - geo.firstDataBlock) / geo.blocksPerGroup
	for i := uint32(0); i <= geo.groups; i++ {
		g := (start + i) % geo.groups
		d := f.desc(g)
		if d.FreeBlocksCount() == 0 {
			continue
		}
		bm, err := f.blockBitmap(g)
		if err != nil {
			return 0, err
		}
		n := geo.blocksInGroup(g)
		from := uint32(0)
		if i == 0 {
			from = (goal - geo.firstDataBlock) % geo.blocksPerGroup
		}
		bit, ok := findClear(bm, from, n)
		if !ok && from > 0 {
			bit, ok = findClear(bm, 0, from)
		}
		if !ok {
			// The descriptor claims free blocks the bitmap does not have.
			return 0, corrupt("group %d: free block count %d but bitmap full", g, d.FreeBlocksCount())
		}
		setBit(bm, bit)
		f.bbDirty[g] = true
		d.setFreeBlocksCount(d.FreeBlocksCount() - 1)
		f.sb.setFreeBlocksCount(f.sb.FreeBlocksCount() - 1)
		f.metaDirty = true
		f.stats.BlocksAllocated++
		return geo.firstDataBlock + g*geo.blocksPerGroup + bit, nil
	}
	return 0, fmt.Errorf("ext2: allocate block: %w", vfs.ENOSPC)
}

// findClear returns the first clear bit in [from, to).
func findClear(bm []byte, from, to uint32) (uint32, bool) {
	for i := from; i < to; {
		if i%8 == 0 && i+8 <= to && bm[i/8] == 0xff {
			i += 8
			continue
		}
		if !testBit(bm, i) {
			return i, true
		}
		i++
	}
	return 0, false
}

// freeBlock returns a block to its group.
func (f *FS) freeBlock(b uint32) error {
	geo := &f.geo
	if b < geo.firstDataBlock || b >= geo.blocksCount {
		return corrupt("free of block %d outside filesystem", b)
	}
	f.bc.forget(b)
	f.allocMu.Lock()
	defer f.allocMu.Unlock()
	g := (b - geo.firstDataBlock) / geo.blocksPerGroup
	bit := (b - geo.firstDataBlock) % geo.blocksPerGroup
	bm, err := f.blockBitmap(g)
	if err != nil {
		return err
	}
	if !testBit(bm, bit) {
		return corrupt("double free of block %d", b)
	}
	clearBit(bm, bit)
	f.bbDirty[g] = true
	d := f.desc(g)
	d.setFreeBlocksCount(d.FreeBlocksCount() + 1)
	f.sb.setFreeBlocksCount(f.sb.FreeBlocksCount() + 1)
	f.metaDirty = true
	f.stats.BlocksFreed++
	return nil
}

// allocInode allocates an inode number. Directories go to the group with the most free
// inodes among those with at least the average free blocks (a simple spread, after Linux's
// find_group_dir); files stay in their parent's group when it has room.
func (f *FS) allocInode(parentGroup uint32, dir bool) (uint32, error) {
	f.allocMu.Lock()
	defer f.allocMu.Unlock()
	geo := &f.geo
	start := parentGroup % geo.groups
	if dir {
		avgB := f.sb.FreeBlocksCount() / geo.groups
		best, bestFree := start, -1
		for g := uint32(0); g < geo.groups; g++ {
			d := f.desc(g)
			if d.FreeInodesCount() == 0 || uint32(d.FreeBlocksCount()) < avgB {
				continue
			}
			if int(d.FreeInodesCount()) > bestFree {
				best, bestFree = g, int(d.FreeInodesCount())
			}
		}
		start = best
	}
	for i := uint32(0); i < geo.groups; i++ {
		g := (start + i) % geo.groups
		d := f.desc(g)
		if d.FreeInodesCount() == 0 {
			continue
		}
		bm, err := f.inodeBitmap(g)
		if err != nil {
			return 0, err
		}
		from := uint32(0)
		if g == 0 {
			from = geo.firstIno - 1 // reserved inodes are never handed out
		}
		bit, ok := findClear(bm, from, geo.inodesPerGroup)
		if !ok {
			return 0, corrupt("group %d: free inode count %d but bitmap full", g, d.FreeInodesCount())
		}
		setBit(bm, bit)
		f.ibDirty[g] = true
		d.setFreeInodesCount(d.FreeInodesCount() - 1)
		if dir {
			d.setUsedDirsCount(d.UsedDirsCount() + 1)
		}
		f.sb.setFreeInodesCount(f.sb.FreeInodesCount() - 1)
		f.metaDirty = true
		f.stats.InodesAllocated++
		return g*geo.inodesPerGroup + bit + 1, nil
	}
	return 0, fmt.Errorf("ext2: allocate inode: %w", vfs.ENOSPC)
}

func (f *FS) freeInodeBit(ino uint32, dir bool) error {
	f.allocMu.Lock()
	defer f.allocMu.Unlock()
	g := (ino - 1) / f.geo.inodesPerGroup
	bit := (ino - 1) % f.geo.inodesPerGroup
	bm, err := f.inodeBitmap(g)
	if err != nil {
		return err
	}
	if !testBit(bm, bit) {
		return corrupt("double free of inode %d", ino)
	}
	clearBit(bm, bit)
	f.ibDirty[g] = true
	d := f.desc(g)
	d.setFreeInodesCount(d.FreeInodesCount() + 1)
	if dir && d.UsedDirsCount() > 0 {
		d.setUsedDirsCount(d.UsedDirsCount() - 1)
	}
	f.sb.setFreeInodesCount(f.sb.FreeInodesCount() + 1)
	f.metaDirty = true
	f.stats.InodesFreed++
	return nil
}

func (f *FS) inodeGroup(ino uint32) uint32 { return (ino - 1) / f.geo.inodesPerGroup }

// setLargeFile records RO_COMPAT_LARGE_FILE once a file grows past 2 GiB.
func (f *FS) setLargeFile() {
	f.allocMu.Lock()
	if ro := f.sb.FeatureRoCompat(); ro&roCompatLargeFile == 0 {
		f.sb.setFeatureRoCompat(ro | roCompatLargeFile)
		f.metaDirty = true
	}
	f.allocMu.Unlock()
}
