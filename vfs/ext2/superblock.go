package ext2

import (
	"encoding/binary"
	"fmt"
)

// Superblock layout: ext4 disk layout, "The Super Block". It lives at byte 1024 of the device
// whatever the block size, and is 1024 bytes long.
const (
	superblockOffset = 1024
	superblockSize   = 1024

	superMagic = 0xEF53

	// s_state bits.
	stateValid = 1 // cleanly unmounted
	stateError = 2 // errors detected

	revGood = 1 // dynamic revision: variable inode size, feature flags
)

// Feature flags (ext4 disk layout, "The Super Block", s_feature_*).
const (
	compatDirPrealloc  = 0x1
	compatImagicInodes = 0x2
	compatHasJournal   = 0x4
	compatExtAttr      = 0x8
	compatResizeInode  = 0x10
	compatDirIndex     = 0x20

	incompatCompression = 0x1
	incompatFiletype    = 0x2
	incompatRecover     = 0x4
	incompatJournalDev  = 0x8
	incompatMetaBG      = 0x10
	incompatExtents     = 0x40
	incompat64Bit       = 0x80
	incompatMMP         = 0x100
	incompatFlexBG      = 0x200

	roCompatSparseSuper = 0x1
	roCompatLargeFile   = 0x2
	roCompatBtreeDir    = 0x4
	roCompatHugeFile    = 0x8
	roCompatGdtCsum     = 0x10
	roCompatDirNlink    = 0x20
	roCompatExtraIsize  = 0x40
)

// Features this package understands well enough to read, and to write.
const (
	incompatReadable = incompatFiletype | incompatFlexBG
	incompatWritable = incompatFiletype | incompatFlexBG

	roCompatWritable = roCompatSparseSuper | roCompatLargeFile | roCompatDirNlink | roCompatExtraIsize
)

// superblock is a typed view over the 1024 superblock bytes.
type superblock []byte

func (s superblock) u16(off int) uint16 { return binary.LittleEndian.Uint16(s[off:]) }
func (s superblock) u32(off int) uint32 { return binary.LittleEndian.Uint32(s[off:]) }
func (s superblock) put16(off int, v uint16) {
	binary.LittleEndian.PutUint16(s[off:], v)
}
func (s superblock) put32(off int, v uint32) {
	binary.LittleEndian.PutUint32(s[off:], v)
}

func (s superblock) InodesCount() uint32     { return s.u32(0) }
func (s superblock) BlocksCount() uint32     { return s.u32(4) }
func (s superblock) FreeBlocksCount() uint32 { return s.u32(12) }
func (s superblock) FreeInodesCount() uint32 { return s.u32(16) }
func (s superblock) FirstDataBlock() uint32  { return s.u32(20) }
func (s superblock) LogBlockSize() uint32    { return s.u32(24) }
func (s superblock) LogFragSize() uint32     { return s.u32(28) }
func (s superblock) BlocksPerGroup() uint32  { return s.u32(32) }
func (s superblock) FragsPerGroup() uint32   { return s.u32(36) }
func (s superblock) InodesPerGroup() uint32  { return s.u32(40) }
func (s superblock) Magic() uint16           { return s.u16(56) }
func (s superblock) State() uint16           { return s.u16(58) }
func (s superblock) RevLevel() uint32        { return s.u32(76) }
func (s superblock) FeatureCompat() uint32   { return s.u32(92) }
func (s superblock) FeatureIncompat() uint32 { return s.u32(96) }
func (s superblock) FeatureRoCompat() uint32 { return s.u32(100) }
func (s superblock) DescSize() uint16        { return s.u16(254) }
func (s superblock) MinExtraIsize() uint16   { return s.u16(348) }
func (s superblock) WantExtraIsize() uint16  { return s.u16(350) }

// FirstIno is the first inode number available to files (11 in revision 0).
func (s superblock) FirstIno() uint32 {
	if s.RevLevel() < revGood {
		return 11
	}
	return s.u32(84)
}

// InodeSize is the on-disk inode record size (128 in revision 0).
func (s superblock) InodeSize() uint32 {
	if s.RevLevel() < revGood {
		return 128
	}
	return uint32(s.u16(88))
}

func (s superblock) setFreeBlocksCount(v uint32) { s.put32(12, v) }
func (s superblock) setFreeInodesCount(v uint32) { s.put32(16, v) }
func (s superblock) setState(v uint16)           { s.put16(58, v) }
func (s superblock) setMtime(v uint32)           { s.put32(44, v) }
func (s superblock) Wtime() uint32               { return s.u32(48) }
func (s superblock) setWtime(v uint32)           { s.put32(48, v) }
func (s superblock) setFeatureRoCompat(v uint32) { s.put32(100, v) }
func (s superblock) mntCount() uint16            { return s.u16(52) }
func (s superblock) setMntCount(v uint16)        { s.put16(52, v) }

// geometry holds what the rest of the package needs from a validated superblock.
type geometry struct {
	blockSize      int64
	blocksCount    uint32
	firstDataBlock uint32
	blocksPerGroup uint32
	inodesPerGroup uint32
	inodesCount    uint32
	inodeSize      uint32
	firstIno       uint32
	groups         uint32
	descSize       uint32
	gdtBlock       uint32 // first block of the group descriptor table
	gdtBlocks      uint32
	itableBlocks   uint32 // inode table blocks per group
	addrPerBlock   uint32 // block numbers per indirect block
	filetype       bool   // directory entries carry a file type byte
}

// validateSuperblock checks a superblock against itself and the device size, returning the
// geometry or the reason the disk is refused.
func validateSuperblock(s superblock, devSize int64) (geometry, error) {
	var g geometry
	if len(s) < superblockSize {
		return g, refuse("short superblock")
	}
	if s.Magic() != superMagic {
		return g, refuse("bad magic %#04x (want %#04x)", s.Magic(), superMagic)
	}
	if s.RevLevel() > revGood {
		return g, refuse("unknown revision %d", s.RevLevel())
	}
	if s.LogBlockSize() > 2 {
		return g, refuse("block size 2^(10+%d) not supported (1, 2 or 4 KiB)", s.LogBlockSize())
	}
	if s.LogFragSize() != s.LogBlockSize() {
		return g, refuse("fragment size differs from block size")
	}
	if inc := s.FeatureIncompat(); inc&^incompatReadable != 0 {
		return g, refuse("unsupported incompatible features %#x (%s)", inc&^incompatReadable, incompatNames(inc&^incompatReadable))
	}
	g.blockSize = 1024 << s.LogBlockSize()
	g.blocksCount = s.BlocksCount()
	g.firstDataBlock = s.FirstDataBlock()
	g.blocksPerGroup = s.BlocksPerGroup()
	g.inodesPerGroup = s.InodesPerGroup()
	g.inodesCount = s.InodesCount()
	g.inodeSize = s.InodeSize()
	g.firstIno = s.FirstIno()
	g.addrPerBlock = uint32(g.blockSize / 4)
	g.filetype = s.FeatureIncompat()&incompatFiletype != 0
	bitsPerBlock := uint32(g.blockSize * 8)

	wantFirst := uint32(0)
	if g.blockSize == 1024 {
		wantFirst = 1
	}
	switch {
	case g.firstDataBlock != wantFirst:
		return g, refuse("first data block %d, want %d for %d-byte blocks", g.firstDataBlock, wantFirst, g.blockSize)
	case g.blocksPerGroup == 0 || g.blocksPerGroup > bitsPerBlock:
		return g, refuse("blocks per group %d out of range (1..%d)", g.blocksPerGroup, bitsPerBlock)
	case s.FragsPerGroup() != g.blocksPerGroup:
		return g, refuse("fragments per group %d differs from blocks per group %d", s.FragsPerGroup(), g.blocksPerGroup)
	case g.inodesPerGroup == 0 || g.inodesPerGroup > bitsPerBlock:
		return g, refuse("inodes per group %d out of range (1..%d)", g.inodesPerGroup, bitsPerBlock)
	case g.inodeSize < 128 || g.inodeSize > uint32(g.blockSize) || g.inodeSize&(g.inodeSize-1) != 0:
		return g, refuse("inode size %d invalid", g.inodeSize)
	case g.blocksCount <= g.firstDataBlock:
		return g, refuse("block count %d too small", g.blocksCount)
	case int64(g.blocksCount)*g.blockSize > devSize:
		return g, refuse("filesystem of %d blocks of %d bytes exceeds device of %d bytes", g.blocksCount, g.blockSize, devSize)
	}
	if (g.inodesPerGroup*g.inodeSize)%uint32(g.blockSize) != 0 {
		return g, refuse("inode table of %d inodes of %d bytes is not whole blocks", g.inodesPerGroup, g.inodeSize)
	}
	g.itableBlocks = g.inodesPerGroup * g.inodeSize / uint32(g.blockSize)
	g.groups = (g.blocksCount - g.firstDataBlock + g.blocksPerGroup - 1) / g.blocksPerGroup
	if uint64(g.groups)*uint64(g.inodesPerGroup) != uint64(g.inodesCount) {
		return g, refuse("inode count %d != %d groups x %d inodes", g.inodesCount, g.groups, g.inodesPerGroup)
	}
	if g.firstIno < 11 || g.firstIno >= g.inodesCount {
		return g, refuse("first inode %d out of range", g.firstIno)
	}
	g.descSize = 32
	g.gdtBlock = g.firstDataBlock + 1
	g.gdtBlocks = uint32((int64(g.groups)*int64(g.descSize) + g.blockSize - 1) / g.blockSize)
	if g.gdtBlock+g.gdtBlocks > g.blocksCount {
		return g, refuse("group descriptor table (%d blocks) beyond end of filesystem", g.gdtBlocks)
	}
	if s.FreeBlocksCount() > g.blocksCount || s.FreeInodesCount() > g.inodesCount {
		return g, refuse("free counts exceed totals")
	}
	return g, nil
}

// writable reports why a validated disk may not be written, or nil.
func writable(s superblock) error {
	if inc := s.FeatureIncompat(); inc&^incompatWritable != 0 {
		return refuse("cannot write incompatible features %#x", inc&^incompatWritable)
	}
	if ro := s.FeatureRoCompat(); ro&^roCompatWritable != 0 {
		return refuse("cannot write read-only-compatible features %#x (%s)", ro&^roCompatWritable, roCompatNames(ro&^roCompatWritable))
	}
	if s.FeatureCompat()&compatHasJournal != 0 {
		return refuse("has a journal (ext3/4); not written without journalling")
	}
	if s.State()&stateError != 0 {
		return refuse("filesystem has errors recorded; run e2fsck")
	}
	if s.State()&stateValid == 0 {
		return refuse("filesystem was not cleanly unmounted; run e2fsck")
	}
	return nil
}

func incompatNames(f uint32) string {
	return flagNames(f, []flagName{
		{incompatCompression, "compression"}, {incompatRecover, "journal needs recovery"},
		{incompatJournalDev, "journal device"}, {incompatMetaBG, "meta_bg"},
		{incompatExtents, "extents"}, {incompat64Bit, "64bit"}, {incompatMMP, "mmp"},
	})
}

func roCompatNames(f uint32) string {
	return flagNames(f, []flagName{
		{roCompatBtreeDir, "btree_dir"}, {roCompatHugeFile, "huge_file"},
		{roCompatGdtCsum, "uninit_bg/gdt_csum"}, {0x400, "metadata_csum"}, {0x100, "quota"},
		{0x200, "bigalloc"},
	})
}

type flagName struct {
	bit  uint32
	name string
}

func flagNames(f uint32, names []flagName) string {
	out := ""
	for _, n := range names {
		if f&n.bit != 0 {
			if out != "" {
				out += ","
			}
			out += n.name
			f &^= n.bit
		}
	}
	if f != 0 {
		if out != "" {
			out += ","
		}
		out += fmt.Sprintf("unknown %#x", f)
	}
	return out
}
