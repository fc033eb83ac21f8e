package ext2

import (
	"fmt"
	"sync"
	"time"

	"damselfly/vfs"
)

// Device is the byte-addressed disk under the filesystem: a blk device, a disk image file, or
// memory. Offsets are 64-bit bytes, as DragonFly's bio_offset.
type Device interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Size() int64
}

// Flusher is implemented by devices with a volatile write cache; Sync calls Flush last.
type Flusher interface {
	Flush() error
}

// Options configure a mount.
type Options struct {
	ReadOnly bool
	// Now supplies timestamps; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// CacheBlocks bounds the metadata block cache (default 4096 blocks).
	CacheBlocks int
}

// FS is one mounted ext2 filesystem. It implements vfs.Filesystem.
type FS struct {
	dev Device
	geo geometry
	ro  bool
	now func() time.Time
	bc  *bcache

	nsMu sync.RWMutex // namespace; see doc.go for the lock order

	allocMu   sync.Mutex
	sb        superblock // in-memory copy, written back by Sync
	gdt       []byte     // group descriptor table, written back by Sync
	bbitmap   [][]byte   // per-group block bitmaps, loaded on first use
	ibitmap   [][]byte
	bbDirty   []bool
	ibDirty   []bool
	metaDirty bool // sb or gdt changed since the last Sync
	lastGroup uint32

	icMu   sync.Mutex
	icache map[uint32]*inode

	dirIdx dirIndexes

	stats Stats
}

// Stats are counters for slow paths, for the status page.
type Stats struct {
	BlocksAllocated, BlocksFreed uint64
	InodesAllocated, InodesFreed uint64
	DirBlocksAdded               uint64
	IndexFlagsCleared            uint64
}

// Mount validates the disk on dev and returns the filesystem. A disk that fails validation is
// refused with an error wrapping ErrRefused; a read-write mount of a disk this package cannot
// maintain is refused likewise, before anything is written.
func Mount(dev Device, opts Options) (*FS, error) {
	sbBuf := make([]byte, superblockSize)
	if dev.Size() < superblockOffset+superblockSize {
		return nil, refuse("device of %d bytes too small", dev.Size())
	}
	if err := readFull(dev, sbBuf, superblockOffset); err != nil {
		return nil, fmt.Errorf("ext2: superblock: %w", err)
	}
	sb := superblock(sbBuf)
	geo, err := validateSuperblock(sb, dev.Size())
	if err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := writable(sb); err != nil {
			return nil, fmt.Errorf("%w (mount read-only instead)", err)
		}
	}
	gdt := make([]byte, int64(geo.gdtBlocks)*geo.blockSize)
	if err := readFull(dev, gdt, int64(geo.gdtBlock)*geo.blockSize); err != nil {
		return nil, fmt.Errorf("ext2: group descriptors: %w", err)
	}
	if err := validateGroupDescs(&geo, gdt); err != nil {
		return nil, err
	}
	f := &FS{
		dev:     dev,
		geo:     geo,
		ro:      opts.ReadOnly,
		now:     opts.Now,
		sb:      sb,
		gdt:     gdt,
		bbitmap: make([][]byte, geo.groups),
		ibitmap: make([][]byte, geo.groups),
		bbDirty: make([]bool, geo.groups),
		ibDirty: make([]bool, geo.groups),
		icache:  make(map[uint32]*inode),
	}
	if f.now == nil {
		f.now = time.Now
	}
	cache := opts.CacheBlocks
	if cache == 0 {
		cache = 4096
	}
	f.bc = newBcache(dev, geo.blockSize, cache)
	root, err := f.iget(rootIno)
	if err != nil {
		return nil, fmt.Errorf("ext2: root directory: %w", err)
	}
	isDir := root.raw.Mode()&sIFMT == sIFDIR
	f.iput(root)
	if !isDir {
		return nil, refuse("root inode is not a directory")
	}
	if !f.ro {
		// Recompute the superblock totals from the descriptors (as Linux does at mount), and
		// mark the disk in use so that a crash leaves it flagged for e2fsck.
		var freeB, freeI uint64
		for g := uint32(0); g < geo.groups; g++ {
			freeB += uint64(f.desc(g).FreeBlocksCount())
			freeI += uint64(f.desc(g).FreeInodesCount())
		}
		if freeB > uint64(geo.blocksCount) || freeI > uint64(geo.inodesCount) {
			return nil, refuse("group free counts exceed totals")
		}
		sb.setFreeBlocksCount(uint32(freeB))
		sb.setFreeInodesCount(uint32(freeI))
		sb.setState(sb.State() &^ stateValid)
		sb.setMtime(uint32(f.now().Unix()))
		sb.setMntCount(sb.mntCount() + 1)
		if err := f.writeSuper(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// BlockSize returns the filesystem block size in bytes.
func (f *FS) BlockSize() int64 { return f.geo.blockSize }

// ReadOnly reports whether the mount refuses changes (vfs.ReadOnlyReporter).
func (f *FS) ReadOnly() bool { return f.ro }

// Stats returns a snapshot of the counters.
func (f *FS) Stats() Stats {
	f.allocMu.Lock()
	defer f.allocMu.Unlock()
	return f.stats
}

func (f *FS) desc(g uint32) groupDesc {
	return groupDesc(f.gdt[g*f.geo.descSize : (g+1)*f.geo.descSize])
}

func (f *FS) checkWritable() error {
	if f.ro {
		return fmt.Errorf("ext2: %w", vfs.EROFS)
	}
	return nil
}

func (f *FS) writeSuper() error {
	f.sb.setWtime(uint32(f.now().Unix()))
	if _, err := f.dev.WriteAt(f.sb, superblockOffset); err != nil {
		return fmt.Errorf("ext2: write superblock: %w", err)
	}
	return nil
}

// Sync writes the bitmaps, group descriptors and superblock. Inodes, directories, indirect
// blocks and file data are written through as they change.
func (f *FS) Sync() error {
	if f.ro {
		return nil
	}
	f.allocMu.Lock()
	err := f.syncLocked()
	f.allocMu.Unlock()
	if err != nil {
		return err
	}
	if fl, ok := f.dev.(Flusher); ok {
		if err := fl.Flush(); err != nil {
			return fmt.Errorf("ext2: flush: %w", err)
		}
	}
	return nil
}

func (f *FS) syncLocked() error {
	bs := f.geo.blockSize
	for g := uint32(0); g < f.geo.groups; g++ {
		if f.bbDirty[g] {
			if _, err := f.dev.WriteAt(f.bbitmap[g], int64(f.desc(g).BlockBitmap())*bs); err != nil {
				return fmt.Errorf("ext2: write block bitmap %d: %w", g, err)
			}
			f.bbDirty[g] = false
		}
		if f.ibDirty[g] {
			if _, err := f.dev.WriteAt(f.ibitmap[g], int64(f.desc(g).InodeBitmap())*bs); err != nil {
				return fmt.Errorf("ext2: write inode bitmap %d: %w", g, err)
			}
			f.ibDirty[g] = false
		}
	}
	if f.metaDirty {
		if _, err := f.dev.WriteAt(f.gdt, int64(f.geo.gdtBlock)*bs); err != nil {
			return fmt.Errorf("ext2: write group descriptors: %w", err)
		}
		f.metaDirty = false
	}
	return f.writeSuper()
}

// Unmount syncs and marks the filesystem cleanly unmounted.
func (f *FS) Unmount() error {
	if f.ro {
		return nil
	}
	// Files unlinked while open and never closed are released now, so the disk is left
	// without orphans.
	f.icMu.Lock()
	var orphans []*inode
	for ino, ip := range f.icache {
		if ip.raw.LinksCount() == 0 {
			orphans = append(orphans, ip)
			delete(f.icache, ino)
		}
	}
	f.icMu.Unlock()
	for _, ip := range orphans {
		ip.mu.Lock()
		err := f.freeInodeLocked(ip)
		ip.mu.Unlock()
		if err != nil {
			return err
		}
	}
	f.allocMu.Lock()
	defer f.allocMu.Unlock()
	f.sb.setState(f.sb.State() | stateValid)
	if err := f.syncLocked(); err != nil {
		return err
	}
	if fl, ok := f.dev.(Flusher); ok {
		return fl.Flush()
	}
	return nil
}
