package ext2

import (
	"encoding/binary"

	"damselfly/vfs"
)

// Inode layout: ext4 disk layout, "Index Nodes". The first 128 bytes are the same in every
// revision; larger records carry i_extra_isize and extra timestamps, which are preserved.
const (
	nDirect   = 12
	indBlock  = 12
	dindBlock = 13
	tindBlock = 14
	nBlockPtr = 15

	fastSymlinkMax = 60 // bytes of i_block

	rootIno = 2

	// i_mode type bits.
	sIFMT   = 0xF000
	sIFSOCK = 0xC000
	sIFLNK  = 0xA000
	sIFREG  = 0x8000
	sIFBLK  = 0x6000
	sIFDIR  = 0x4000
	sIFCHR  = 0x2000
	sIFIFO  = 0x1000

	// i_flags.
	flagIndex      = 0x1000
	flagHugeFile   = 0x40000
	flagExtents    = 0x80000
	flagInlineData = 0x10000000

	maxLinks = 65000
)

// rawInode is a view over one on-disk inode record.
type rawInode []byte

func (r rawInode) u16(o int) uint16         { return binary.LittleEndian.Uint16(r[o:]) }
func (r rawInode) u32(o int) uint32         { return binary.LittleEndian.Uint32(r[o:]) }
func (r rawInode) p16(o int, v uint16)      { binary.LittleEndian.PutUint16(r[o:], v) }
func (r rawInode) p32(o int, v uint32)      { binary.LittleEndian.PutUint32(r[o:], v) }
func (r rawInode) Mode() uint16             { return r.u16(0) }
func (r rawInode) UID() uint32              { return uint32(r.u16(2)) | uint32(r.u16(120))<<16 }
func (r rawInode) GID() uint32              { return uint32(r.u16(24)) | uint32(r.u16(122))<<16 }
func (r rawInode) Atime() uint32            { return r.u32(8) }
func (r rawInode) Ctime() uint32            { return r.u32(12) }
func (r rawInode) Mtime() uint32            { return r.u32(16) }
func (r rawInode) Dtime() uint32            { return r.u32(20) }
func (r rawInode) LinksCount() uint16       { return r.u16(26) }
func (r rawInode) Blocks() uint32           { return r.u32(28) } // 512-byte units
func (r rawInode) Flags() uint32            { return r.u32(32) }
func (r rawInode) Block(i int) uint32       { return r.u32(40 + 4*i) }
func (r rawInode) FileACL() uint32          { return r.u32(104) }
func (r rawInode) sizeHigh() uint32         { return r.u32(108) }
func (r rawInode) setMode(v uint16)         { r.p16(0, v) }
func (r rawInode) setAtime(v uint32)        { r.p32(8, v) }
func (r rawInode) setCtime(v uint32)        { r.p32(12, v) }
func (r rawInode) setMtime(v uint32)        { r.p32(16, v) }
func (r rawInode) setDtime(v uint32)        { r.p32(20, v) }
func (r rawInode) setLinks(v uint16)        { r.p16(26, v) }
func (r rawInode) setBlocks(v uint32)       { r.p32(28, v) }
func (r rawInode) setFlags(v uint32)        { r.p32(32, v) }
func (r rawInode) setBlock(i int, v uint32) { r.p32(40+4*i, v) }
func (r rawInode) setFileACL(v uint32)      { r.p32(104, v) }

func (r rawInode) setUID(v uint32) { r.p16(2, uint16(v)); r.p16(120, uint16(v>>16)) }
func (r rawInode) setGID(v uint32) { r.p16(24, uint16(v)); r.p16(122, uint16(v>>16)) }

// Size is the file size; i_size_high (formerly i_dir_acl) extends it only for regular files
// (RO_COMPAT_LARGE_FILE), directories keep it zero in ext2.
func (r rawInode) Size() int64 {
	s := int64(r.u32(4))
	if r.Mode()&sIFMT == sIFREG {
		s |= int64(r.sizeHigh()) << 32
	}
	return s
}

func (r rawInode) setSize(v int64) {
	r.p32(4, uint32(v))
	if r.Mode()&sIFMT == sIFREG {
		r.p32(108, uint32(uint64(v)>>32))
	}
}

func (r rawInode) Type() vfs.Type {
	switch r.Mode() & sIFMT {
	case sIFREG:
		return vfs.TypeRegular
	case sIFDIR:
		return vfs.TypeDir
	case sIFLNK:
		return vfs.TypeSymlink
	case 0:
		return vfs.TypeUnknown
	}
	return vfs.TypeOther
}

// isFastSymlink: the target is stored in i_block itself. Detected as e2fsprogs did for ext2:
// a symlink with no data blocks beyond a possible extended-attribute block.
func (r rawInode) isFastSymlink(blockSize int64) bool {
	if r.Mode()&sIFMT != sIFLNK || r.Flags()&flagInlineData != 0 {
		return false
	}
	eaBlocks := uint32(0)
	if r.FileACL() != 0 {
		eaBlocks = uint32(blockSize / 512)
	}
	return r.Blocks()-eaBlocks == 0 && r.Size() < fastSymlinkMax
}

// fsBlocks is i_blocks in filesystem blocks (i_blocks counts 512-byte units unless the
// inode has the huge_file flag, then filesystem blocks).
func (r rawInode) fsBlocks(blockSize int64) uint64 {
	if r.Flags()&flagHugeFile != 0 {
		return uint64(r.Blocks())
	}
	return uint64(r.Blocks()) / uint64(blockSize/512)
}

// validateInode checks what the block mapper and directory code rely on.
func validateInode(r rawInode, g *geometry, ino uint32) error {
	if r.Flags()&(flagExtents|flagInlineData) != 0 {
		return corrupt("inode %d: extents or inline data (not ext2)", ino)
	}
	if r.Size() < 0 {
		return corrupt("inode %d: negative size", ino)
	}
	if r.Mode()&sIFMT == sIFDIR && r.Size()%g.blockSize != 0 {
		return corrupt("inode %d: directory size %d not a multiple of the block size", ino, r.Size())
	}
	// Directories are never sparse, so their size is bounded by the blocks they own, which is
	// bounded by the filesystem: this caps every directory scan by the real disk size.
	if blocks := r.fsBlocks(g.blockSize); blocks > uint64(g.blocksCount) {
		return corrupt("inode %d: %d blocks in a filesystem of %d", ino, blocks, g.blocksCount)
	} else if r.Mode()&sIFMT == sIFDIR && uint64(r.Size()/g.blockSize) > blocks {
		return corrupt("inode %d: directory of %d bytes owns only %d blocks", ino, r.Size(), blocks)
	}
	if r.Mode()&sIFMT == sIFLNK && r.Size() >= g.blockSize {
		return corrupt("inode %d: symlink of %d bytes", ino, r.Size())
	}
	if !r.isFastSymlink(g.blockSize) {
		for i := 0; i < nBlockPtr; i++ {
			if b := r.Block(i); b != 0 && (b < g.firstDataBlock || b >= g.blocksCount) {
				return corrupt("inode %d: block pointer %d = %d outside filesystem", ino, i, b)
			}
		}
	}
	return nil
}
