package ext2

import (
	"bytes"
	"fmt"

	"damselfly/vfs"
)

// Linear directories: a directory is a sequence of blocks, each a chain of entries whose
// record lengths cover the block exactly. Directory contents change only under nsMu held
// exclusively, so these helpers need only ip.mu for the block map.

// dirBlock returns the physical block and a copy of directory block i. A hole inside a
// directory is corruption (ext2 directories are never sparse).
func (f *FS) dirBlock(dp *inode, i int64) (uint32, []byte, error) {
	return f.dirBlockRW(dp, i, false)
}

// dirBlockRW is dirBlock; with private, the block is a copy the caller may edit.
func (f *FS) dirBlockRW(dp *inode, i int64, private bool) (uint32, []byte, error) {
	dp.mu.RLock()
	pb, _, err := f.bmap(dp, uint64(i), false)
	dp.mu.RUnlock()
	if err != nil {
		return 0, nil, err
	}
	if pb == 0 {
		return 0, nil, corrupt("directory %d: hole at block %d", dp.ino, i)
	}
	if private {
		b, err := f.bc.readCopy(pb)
		return pb, b, err
	}
	b, err := f.bc.read(pb)
	return pb, b, err
}

func (f *FS) dirBlocks(dp *inode) int64 {
	dp.mu.RLock()
	defer dp.mu.RUnlock()
	return dp.raw.Size() / f.geo.blockSize
}

// dirLoc is where an entry was found.
type dirLoc struct {
	blk     int64  // logical block
	pblk    uint32 // physical block
	off     int    // entry offset in the block
	prevOff int    // previous entry's offset in the block, -1 if first
	ino     uint32
	ftype   uint8
}

// findEntry looks name up in directory dp.
func (f *FS) findEntry(dp *inode, name string) (dirLoc, error) {
	if loc, found, ok, err := f.findIndexed(dp, name); ok {
		if err != nil {
			return dirLoc{}, err
		}
		if !found {
			return dirLoc{}, fmt.Errorf("ext2: %q: %w", name, vfs.ENOENT)
		}
		return loc, nil
	}
	nb := []byte(name)
	n := f.dirBlocks(dp)
	for i := int64(0); i < n; i++ {
		pb, b, err := f.dirBlock(dp, i)
		if err != nil {
			return dirLoc{}, err
		}
		loc := dirLoc{blk: i, pblk: pb, prevOff: -1}
		found := false
		prev := -1
		err = walkDirBlock(b, f.geo.filetype, f.geo.inodesCount, func(d dirent) bool {
			if d.ino != 0 && bytes.Equal(d.name, nb) {
				loc.off, loc.prevOff, loc.ino, loc.ftype = d.off, prev, d.ino, d.ftype
				found = true
				return false
			}
			prev = d.off
			return true
		})
		if err != nil {
			return dirLoc{}, fmt.Errorf("ext2: directory %d block %d: %w", dp.ino, i, err)
		}
		if found {
			return loc, nil
		}
	}
	return dirLoc{}, fmt.Errorf("ext2: %q: %w", name, vfs.ENOENT)
}

// touchDir records a change of directory dp: new times, and the htree index flag cleared
// because the index no longer matches (doc.go). dp.mu held.
func (f *FS) touchDir(dp *inode) {
	if fl := dp.raw.Flags(); fl&flagIndex != 0 {
		dp.raw.setFlags(fl &^ flagIndex)
		f.allocMu.Lock()
		f.stats.IndexFlagsCleared++
		f.allocMu.Unlock()
	}
	now := uint32(f.now().Unix())
	dp.raw.setMtime(now)
	dp.raw.setCtime(now)
}

// addEntry links name to ino in dp, reusing free space in an existing block (an unused entry
// or the slack after an entry) or appending a block.
func (f *FS) addEntry(dp *inode, name string, ino uint32, ftype uint8) error {
	need := direntLen(len(name))
	bs := int(f.geo.blockSize)
	n := f.dirBlocks(dp)
	// Search from the last block back: in a growing directory that is where the room is.
	for i := n - 1; i >= 0; i-- {
		pb, b, err := f.dirBlock(dp, i)
		if err != nil {
			return err
		}
		slot, splitFrom := -1, -1
		err = walkDirBlock(b, f.geo.filetype, f.geo.inodesCount, func(d dirent) bool {
			if d.ino == 0 && d.recLen >= need {
				slot = d.off
				return false
			}
			if d.ino != 0 && d.recLen-direntLen(len(d.name)) >= need {
				splitFrom = d.off
				return false
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("ext2: directory %d block %d: %w", dp.ino, i, err)
		}
		if slot >= 0 || splitFrom >= 0 {
			b = append([]byte(nil), b...) // the cached block is shared and read-only
		}
		var at int
		switch {
		case slot >= 0:
			d, _ := parseDirent(b, slot, f.geo.filetype, f.geo.inodesCount)
			putDirent(b, slot, ino, d.recLen, name, ftype, f.geo.filetype)
			at = slot
		case splitFrom >= 0:
			d, _ := parseDirent(b, splitFrom, f.geo.filetype, f.geo.inodesCount)
			used := direntLen(len(d.name))
			setRecLen(b, splitFrom, used)
			putDirent(b, splitFrom+used, ino, d.recLen-used, name, ftype, f.geo.filetype)
			at = splitFrom + used
		default:
			continue
		}
		if err := f.bc.write(pb, b); err != nil {
			return err
		}
		f.dirIdx.added(dp.ino, name, dirSlot{blk: i, off: at})
		dp.mu.Lock()
		f.touchDir(dp)
		err = f.writeInode(dp)
		dp.mu.Unlock()
		return err
	}
	// No room: append a block holding just this entry.
	dp.mu.Lock()
	defer dp.mu.Unlock()
	size := dp.raw.Size()
	if size+f.geo.blockSize > 1<<31-1 {
		return fmt.Errorf("ext2: directory %d full: %w", dp.ino, vfs.ENOSPC)
	}
	pb, _, err := f.bmap(dp, uint64(size/f.geo.blockSize), true)
	if err != nil {
		return err
	}
	b := make([]byte, bs)
	putDirent(b, 0, ino, bs, name, ftype, f.geo.filetype)
	if err := f.bc.write(pb, b); err != nil {
		return err
	}
	f.dirIdx.added(dp.ino, name, dirSlot{blk: size / f.geo.blockSize, off: 0})
	dp.raw.setSize(size + f.geo.blockSize)
	f.touchDir(dp)
	f.allocMu.Lock()
	f.stats.DirBlocksAdded++
	f.allocMu.Unlock()
	return f.writeInode(dp)
}

// removeEntry unlinks the entry at loc: merged into the previous entry, or marked unused when
// it is the first of its block.
func (f *FS) removeEntry(dp *inode, loc dirLoc) error {
	_, b, err := f.dirBlockRW(dp, loc.blk, true)
	if err != nil {
		return err
	}
	d, err := parseDirent(b, loc.off, f.geo.filetype, f.geo.inodesCount)
	if err != nil {
		return err
	}
	f.dirIdx.removed(dp.ino, string(d.name))
	if loc.prevOff >= 0 {
		p, err := parseDirent(b, loc.prevOff, f.geo.filetype, f.geo.inodesCount)
		if err != nil {
			return err
		}
		setRecLen(b, loc.prevOff, p.recLen+d.recLen)
	} else {
		put32(b, loc.off, 0)
	}
	if err := f.bc.write(loc.pblk, b); err != nil {
		return err
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	f.touchDir(dp)
	return f.writeInode(dp)
}

// retarget points the entry at loc to another inode (rename over an existing name).
func (f *FS) retarget(dp *inode, loc dirLoc, ino uint32, ftype uint8) error {
	_, b, err := f.dirBlockRW(dp, loc.blk, true)
	if err != nil {
		return err
	}
	put32(b, loc.off, ino)
	if f.geo.filetype {
		b[loc.off+7] = ftype
	}
	if err := f.bc.write(loc.pblk, b); err != nil {
		return err
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	f.touchDir(dp)
	return f.writeInode(dp)
}

// readdir lists entries from byte offset cookie; "." and ".." are left out.
func (f *FS) readdir(dp *inode, cookie uint64, max int) ([]vfs.DirEntry, uint64, error) {
	bs := uint64(f.geo.blockSize)
	n := uint64(f.dirBlocks(dp))
	var out []vfs.DirEntry
	for blk := cookie / bs; blk < n && len(out) < max; blk++ {
		_, b, err := f.dirBlock(dp, int64(blk))
		if err != nil {
			return nil, 0, err
		}
		start := int(cookie % bs)
		if blk != cookie/bs {
			start = 0
		}
		// Entries are parsed from the block start so a cookie that points into the middle of
		// a record (left by an earlier merge) resumes at the next whole entry.
		err = walkDirBlock(b, f.geo.filetype, f.geo.inodesCount, func(d dirent) bool {
			if d.off < start {
				return true
			}
			if len(out) >= max {
				cookie = blk*bs + uint64(d.off)
				return false
			}
			cookie = blk*bs + uint64(d.off+d.recLen)
			if d.ino == 0 {
				return true
			}
			name := string(d.name)
			if name == "." || name == ".." {
				return true
			}
			t := ftypeToType(d.ftype)
			if !f.geo.filetype || t == vfs.TypeUnknown {
				if raw, err := f.readRawInode(d.ino); err == nil {
					t = raw.Type()
				}
			}
			out = append(out, vfs.DirEntry{Name: name, Ino: vfs.Ino(d.ino), Type: t})
			return true
		})
		if err != nil {
			return nil, 0, fmt.Errorf("ext2: directory %d block %d: %w", dp.ino, blk, err)
		}
	}
	return out, cookie, nil
}

// dirIsEmpty reports whether dp holds only "." and "..".
func (f *FS) dirIsEmpty(dp *inode) (bool, error) {
	n := f.dirBlocks(dp)
	for i := int64(0); i < n; i++ {
		_, b, err := f.dirBlock(dp, i)
		if err != nil {
			return false, err
		}
		empty := true
		err = walkDirBlock(b, f.geo.filetype, f.geo.inodesCount, func(d dirent) bool {
			if d.ino != 0 && string(d.name) != "." && string(d.name) != ".." {
				empty = false
				return false
			}
			return true
		})
		if err != nil {
			return false, err
		}
		if !empty {
			return false, nil
		}
	}
	return true, nil
}

// newDirBlock builds the first block of a new directory: "." and "..".
func (f *FS) newDirBlock(self, parent uint32) []byte {
	b := make([]byte, f.geo.blockSize)
	putDirent(b, 0, self, 12, ".", ftDir, f.geo.filetype)
	putDirent(b, 12, parent, int(f.geo.blockSize)-12, "..", ftDir, f.geo.filetype)
	return b
}

// parentOf returns the inode number ".." names in directory dp.
func (f *FS) parentOf(dp *inode) (uint32, error) {
	loc, err := f.findEntry(dp, "..")
	if err != nil {
		return 0, corrupt("directory %d has no '..'", dp.ino)
	}
	return loc.ino, nil
}

// setParent rewrites ".." of directory dp to point at parent.
func (f *FS) setParent(dp *inode, parent uint32) error {
	loc, err := f.findEntry(dp, "..")
	if err != nil {
		return corrupt("directory %d has no '..'", dp.ino)
	}
	return f.retarget(dp, loc, parent, ftDir)
}
