package ext2

import (
	"fmt"
	"sync"

	"damselfly/vfs"
)

// inode is the in-core copy of an on-disk inode. Every VOP takes a reference with iget and
// drops it with iput; an open file holds one more. When the last reference goes and the link
// count is zero, the inode and its blocks are freed (unlink of an open file defers the free to
// its last close).
type inode struct {
	ino uint32
	rl  rangeLock

	mu  sync.RWMutex
	raw rawInode // guarded by mu

	lastAlloc uint32 // allocation goal hint; guarded by mu

	refs  int // guarded by FS.icMu
	opens int // guarded by FS.icMu
}

// inodeLoc returns the block and byte offset within it of an inode record.
func (f *FS) inodeLoc(ino uint32) (uint32, int, error) {
	if ino < 1 || ino > f.geo.inodesCount {
		return 0, 0, corrupt("inode number %d out of range", ino)
	}
	g := (ino - 1) / f.geo.inodesPerGroup
	idx := (ino - 1) % f.geo.inodesPerGroup
	byteOff := int64(idx) * int64(f.geo.inodeSize)
	blk := f.desc(g).InodeTable() + uint32(byteOff/f.geo.blockSize)
	return blk, int(byteOff % f.geo.blockSize), nil
}

func (f *FS) readRawInode(ino uint32) (rawInode, error) {
	blk, off, err := f.inodeLoc(ino)
	if err != nil {
		return nil, err
	}
	b, err := f.bc.read(blk)
	if err != nil {
		return nil, err
	}
	raw := make(rawInode, f.geo.inodeSize)
	copy(raw, b[off:])
	return raw, nil
}

// iget returns the in-core inode, reading and validating it on first use. An inode with no
// links that nobody holds is reported as ENOENT: it was deleted.
func (f *FS) iget(ino uint32) (*inode, error) {
	// The read happens under icMu so that a copy loaded from disk can never be older than an
	// in-core copy that was written through and dropped meanwhile.
	f.icMu.Lock()
	defer f.icMu.Unlock()
	if ip, ok := f.icache[ino]; ok {
		ip.refs++
		return ip, nil
	}
	raw, err := f.readRawInode(ino)
	if err != nil {
		return nil, err
	}
	if raw.LinksCount() == 0 || raw.Mode() == 0 {
		return nil, fmt.Errorf("ext2: inode %d: %w", ino, vfs.ENOENT)
	}
	if err := validateInode(raw, &f.geo, ino); err != nil {
		return nil, err
	}
	ip := &inode{ino: ino, raw: raw, refs: 1}
	f.icache[ino] = ip
	return ip, nil
}

// iput drops a reference; the last one frees an unlinked inode.
func (f *FS) iput(ip *inode) error {
	f.icMu.Lock()
	ip.refs--
	if ip.refs > 0 {
		f.icMu.Unlock()
		return nil
	}
	delete(f.icache, ip.ino)
	f.icMu.Unlock()
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.raw.LinksCount() != 0 || f.ro {
		return nil
	}
	return f.freeInodeLocked(ip)
}

// freeInodeLocked releases the blocks and the number of an inode with no links and no users.
func (f *FS) freeInodeLocked(ip *inode) error {
	isDir := ip.raw.Mode()&sIFMT == sIFDIR
	if isDir {
		f.dirIdx.drop(ip.ino)
	}
	if !ip.raw.isFastSymlink(f.geo.blockSize) {
		if err := f.truncateBlocks(ip, 0); err != nil {
			return err
		}
	}
	if acl := ip.raw.FileACL(); acl != 0 {
		if err := f.releaseXattrBlock(acl); err != nil {
			return err
		}
		ip.raw.setFileACL(0)
		ip.raw.setBlocks(0)
	}
	ip.raw.setSize(0)
	ip.raw.setDtime(f.dtime())
	if err := f.writeInode(ip); err != nil {
		return err
	}
	return f.freeInodeBit(ip.ino, isDir)
}

// releaseXattrBlock drops one reference to a shared extended-attribute block (ext4 disk
// layout, "Extended Attributes": magic 0xEA020000, h_refcount at byte 4).
func (f *FS) releaseXattrBlock(b uint32) error {
	if b < f.geo.firstDataBlock || b >= f.geo.blocksCount {
		return corrupt("xattr block %d outside filesystem", b)
	}
	data, err := f.bc.readCopy(b)
	if err != nil {
		return err
	}
	if le32(data, 0) != 0xEA020000 {
		return corrupt("xattr block %d: bad magic", b)
	}
	refs := le32(data, 4)
	if refs > 1 {
		put32(data, 4, refs-1)
		return f.bc.write(b, data)
	}
	return f.freeBlock(b)
}

// writeInode writes the in-core inode record through to its inode table block. ip.mu held.
func (f *FS) writeInode(ip *inode) error {
	blk, off, err := f.inodeLoc(ip.ino)
	if err != nil {
		return err
	}
	return f.bc.writePart(blk, off, ip.raw)
}

// newInode allocates and initialises an inode of the given mode, with one reference.
func (f *FS) newInode(parentIno uint32, mode uint16) (*inode, error) {
	ino, err := f.allocInode(f.inodeGroup(parentIno), mode&sIFMT == sIFDIR)
	if err != nil {
		return nil, err
	}
	raw := make(rawInode, f.geo.inodeSize)
	now := uint32(f.now().Unix())
	raw.setMode(mode)
	raw.setAtime(now)
	raw.setCtime(now)
	raw.setMtime(now)
	raw.setLinks(1)
	if f.geo.inodeSize > 128 {
		extra := uint16(32)
		if want := f.sb.WantExtraIsize(); want >= 4 && uint32(want) <= f.geo.inodeSize-128 && want%4 == 0 {
			extra = want
		}
		if uint32(extra) > f.geo.inodeSize-128 {
			extra = uint16(f.geo.inodeSize - 128)
		}
		raw.p16(128, extra)
	}
	// Keep the generation of a reused number distinct so stale handles can be told apart.
	if old, err := f.readRawInode(ino); err == nil {
		raw.p32(100, old.u32(100)+1)
	}
	ip := &inode{ino: ino, raw: raw, refs: 1}
	if err := f.writeInode(ip); err != nil {
		return nil, err
	}
	f.icMu.Lock()
	f.icache[ino] = ip
	f.icMu.Unlock()
	return ip, nil
}

func le32(b []byte, off int) uint32 {
	return uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24
}

func put32(b []byte, off int, v uint32) {
	b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// dtime is the deletion time stored in a freed inode. e2fsck reads a zero
// dtime as "in use" and one below s_inodes_count as a link of the orphan
// list, so a guest whose clock still reads the epoch must not store its
// clock: it stores the last write time the superblock recorded (mke2fs or a
// mount with a working clock), or at least the inode count.
func (f *FS) dtime() uint32 {
	d := uint32(f.now().Unix())
	if n := f.sb.InodesCount(); d < n {
		d = max(f.sb.Wtime(), n)
	}
	return d
}
