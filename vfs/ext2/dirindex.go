package ext2

import "sync"

// dirIndex is an in-memory name index of one linear directory, so lookups in directories of
// thousands of entries do not scan every block (the role htree plays on disk, without its
// on-disk format). It is built by one full scan on first use and then kept in step by the
// functions that change directory blocks (addEntry, removeEntry), which run with nsMu held
// exclusively; lookups hold nsMu shared, so the index never disagrees with the disk.
//
// Memory is bounded: when the indexed names of all directories exceed dirIndexMaxNames, every
// index is dropped and rebuilt on demand.
type dirIndex struct {
	names map[string]dirSlot
}

type dirSlot struct {
	blk int64 // logical block
	off int   // entry offset in the block
}

const (
	dirIndexMinBlocks = 2       // smaller directories are scanned
	dirIndexMaxNames  = 1 << 18 // names indexed across all directories
)

type dirIndexes struct {
	mu      sync.Mutex
	dirs    map[uint32]*dirIndex
	names   int
	builds  uint64
	dropped uint64
}

func (x *dirIndexes) get(ino uint32) *dirIndex {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dirs[ino]
}

// put installs a freshly built index (a concurrent builder may have won; keep the first).
func (x *dirIndexes) put(ino uint32, idx *dirIndex) *dirIndex {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.dirs[ino]; old != nil {
		return old
	}
	if x.dirs == nil {
		x.dirs = make(map[uint32]*dirIndex)
	}
	if x.names+len(idx.names) > dirIndexMaxNames {
		x.dirs = make(map[uint32]*dirIndex)
		x.names = 0
		x.dropped++
	}
	x.dirs[ino] = idx
	x.names += len(idx.names)
	x.builds++
	return idx
}

// added and removed keep an index (if any) in step with a directory change; nsMu exclusive.
func (x *dirIndexes) added(ino uint32, name string, s dirSlot) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if idx := x.dirs[ino]; idx != nil {
		idx.names[name] = s
		x.names++
	}
}

func (x *dirIndexes) removed(ino uint32, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if idx := x.dirs[ino]; idx != nil {
		delete(idx.names, name)
		x.names--
	}
}

// drop forgets a directory's index (the directory was freed).
func (x *dirIndexes) drop(ino uint32) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if idx := x.dirs[ino]; idx != nil {
		x.names -= len(idx.names)
		delete(x.dirs, ino)
	}
}

// buildIndex scans directory dp once and indexes every name.
func (f *FS) buildIndex(dp *inode) (*dirIndex, error) {
	idx := &dirIndex{names: make(map[string]dirSlot)}
	n := f.dirBlocks(dp)
	for i := int64(0); i < n; i++ {
		_, b, err := f.dirBlock(dp, i)
		if err != nil {
			return nil, err
		}
		err = walkDirBlock(b, f.geo.filetype, f.geo.inodesCount, func(d dirent) bool {
			if d.ino != 0 {
				idx.names[string(d.name)] = dirSlot{blk: i, off: d.off}
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return f.dirIdx.put(dp.ino, idx), nil
}

// findIndexed looks name up through the index; ok is false when dp is not indexed.
func (f *FS) findIndexed(dp *inode, name string) (loc dirLoc, found, ok bool, err error) {
	idx := f.dirIdx.get(dp.ino)
	if idx == nil {
		if f.dirBlocks(dp) < dirIndexMinBlocks {
			return loc, false, false, nil
		}
		if idx, err = f.buildIndex(dp); err != nil {
			return loc, false, true, err
		}
	}
	f.dirIdx.mu.Lock()
	s, hit := idx.names[name]
	f.dirIdx.mu.Unlock()
	if !hit {
		return loc, false, true, nil
	}
	pb, b, err := f.dirBlock(dp, s.blk)
	if err != nil {
		return loc, false, true, err
	}
	loc = dirLoc{blk: s.blk, pblk: pb, prevOff: -1}
	prev := -1
	found = false
	err = walkDirBlock(b, f.geo.filetype, f.geo.inodesCount, func(d dirent) bool {
		if d.off == s.off {
			if d.ino != 0 && string(d.name) == name {
				loc.off, loc.prevOff, loc.ino, loc.ftype = d.off, prev, d.ino, d.ftype
				found = true
			}
			return false
		}
		prev = d.off
		return true
	})
	if err == nil && !found {
		err = corrupt("directory %d: index names %q at block %d offset %d, not on disk", dp.ino, name, s.blk, s.off)
	}
	return loc, found, true, err
}
