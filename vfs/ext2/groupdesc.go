package ext2

import "encoding/binary"

// groupDesc is a view over one 32-byte block group descriptor (ext4 disk layout, "Block Group
// Descriptors"; the 64bit feature, which widens them, is refused).
type groupDesc []byte

func (d groupDesc) BlockBitmap() uint32     { return binary.LittleEndian.Uint32(d[0:]) }
func (d groupDesc) InodeBitmap() uint32     { return binary.LittleEndian.Uint32(d[4:]) }
func (d groupDesc) InodeTable() uint32      { return binary.LittleEndian.Uint32(d[8:]) }
func (d groupDesc) FreeBlocksCount() uint16 { return binary.LittleEndian.Uint16(d[12:]) }
func (d groupDesc) FreeInodesCount() uint16 { return binary.LittleEndian.Uint16(d[14:]) }
func (d groupDesc) UsedDirsCount() uint16   { return binary.LittleEndian.Uint16(d[16:]) }
func (d groupDesc) Flags() uint16           { return binary.LittleEndian.Uint16(d[18:]) }

func (d groupDesc) setFreeBlocksCount(v uint16) { binary.LittleEndian.PutUint16(d[12:], v) }
func (d groupDesc) setFreeInodesCount(v uint16) { binary.LittleEndian.PutUint16(d[14:], v) }
func (d groupDesc) setUsedDirsCount(v uint16)   { binary.LittleEndian.PutUint16(d[16:], v) }

// blocksInGroup is the number of blocks group g spans; the last group may be short.
func (g *geometry) blocksInGroup(grp uint32) uint32 {
	start := g.firstDataBlock + grp*g.blocksPerGroup
	if rest := g.blocksCount - start; rest < g.blocksPerGroup {
		return rest
	}
	return g.blocksPerGroup
}

// validateGroupDescs checks every descriptor of a group descriptor table: bitmaps and inode
// table inside the filesystem and not overlapping the superblock or the descriptor table, and
// free counts within the group's size.
func validateGroupDescs(g *geometry, table []byte) error {
	if int64(len(table)) < int64(g.groups)*int64(g.descSize) {
		return refuse("group descriptor table short")
	}
	metaEnd := g.gdtBlock + g.gdtBlocks
	inRange := func(b, n uint32) bool {
		return b >= metaEnd && uint64(b)+uint64(n) <= uint64(g.blocksCount)
	}
	for grp := uint32(0); grp < g.groups; grp++ {
		d := groupDesc(table[grp*g.descSize : (grp+1)*g.descSize])
		switch {
		case !inRange(d.BlockBitmap(), 1):
			return refuse("group %d: block bitmap at %d outside filesystem", grp, d.BlockBitmap())
		case !inRange(d.InodeBitmap(), 1):
			return refuse("group %d: inode bitmap at %d outside filesystem", grp, d.InodeBitmap())
		case !inRange(d.InodeTable(), g.itableBlocks):
			return refuse("group %d: inode table at %d outside filesystem", grp, d.InodeTable())
		case uint32(d.FreeBlocksCount()) > g.blocksInGroup(grp):
			return refuse("group %d: %d free blocks exceeds group size", grp, d.FreeBlocksCount())
		case uint32(d.FreeInodesCount()) > g.inodesPerGroup:
			return refuse("group %d: %d free inodes exceeds group size", grp, d.FreeInodesCount())
		case uint32(d.UsedDirsCount()) > g.inodesPerGroup:
			return refuse("group %d: %d directories exceeds group size", grp, d.UsedDirsCount())
		}
	}
	return nil
}
