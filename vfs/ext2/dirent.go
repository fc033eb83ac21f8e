package ext2

import (
	"encoding/binary"

	"damselfly/vfs"
)

// Directory entry layout: ext4 disk layout, "Linear (Classic) Directories". With the filetype
// feature the high byte of name_len holds the file type.
const (
	direntHeader = 8
	maxNameLen   = 255

	ftUnknown = 0
	ftRegular = 1
	ftDir     = 2
	ftChrdev  = 3
	ftBlkdev  = 4
	ftFifo    = 5
	ftSock    = 6
	ftSymlink = 7
)

// dirent is one parsed entry of a directory block.
type dirent struct {
	off    int // byte offset inside the block
	ino    uint32
	recLen int
	name   []byte // aliases the block
	ftype  uint8
}

// direntLen is the space an entry with a name of n bytes needs.
func direntLen(n int) int { return (direntHeader + n + 3) &^ 3 }

// parseDirent parses the entry at off of block b, checking that it stays inside the block.
func parseDirent(b []byte, off int, filetype bool, maxIno uint32) (dirent, error) {
	var d dirent
	if off+direntHeader > len(b) {
		return d, corrupt("directory entry at %d runs past block end", off)
	}
	d.off = off
	d.ino = binary.LittleEndian.Uint32(b[off:])
	d.recLen = int(binary.LittleEndian.Uint16(b[off+4:]))
	var nameLen int
	if filetype {
		nameLen = int(b[off+6])
		d.ftype = b[off+7]
	} else {
		nameLen = int(binary.LittleEndian.Uint16(b[off+6:]))
	}
	switch {
	case d.recLen < direntHeader || d.recLen%4 != 0 || off+d.recLen > len(b):
		return d, corrupt("directory entry at %d: record length %d", off, d.recLen)
	case d.ino != 0 && direntHeader+nameLen > d.recLen:
		return d, corrupt("directory entry at %d: name length %d exceeds record %d", off, nameLen, d.recLen)
	case d.ino > maxIno:
		return d, corrupt("directory entry at %d: inode %d out of range", off, d.ino)
	case d.ino != 0 && nameLen == 0:
		return d, corrupt("directory entry at %d: empty name", off)
	}
	if d.ino != 0 {
		d.name = b[off+direntHeader : off+direntHeader+nameLen]
	}
	return d, nil
}

// putDirent writes an entry header and name at off.
func putDirent(b []byte, off int, ino uint32, recLen int, name string, ftype uint8, filetype bool) {
	binary.LittleEndian.PutUint32(b[off:], ino)
	binary.LittleEndian.PutUint16(b[off+4:], uint16(recLen))
	if filetype {
		b[off+6] = uint8(len(name))
		b[off+7] = ftype
	} else {
		binary.LittleEndian.PutUint16(b[off+6:], uint16(len(name)))
	}
	copy(b[off+direntHeader:], name)
}

// setRecLen rewrites only an entry's record length.
func setRecLen(b []byte, off, recLen int) { binary.LittleEndian.PutUint16(b[off+4:], uint16(recLen)) }

// walkDirBlock calls fn for every entry of a directory block, in order; fn returns false to
// stop. The walk is bounded: each step advances by at least direntHeader bytes.
func walkDirBlock(b []byte, filetype bool, maxIno uint32, fn func(d dirent) bool) error {
	for off := 0; off < len(b); {
		d, err := parseDirent(b, off, filetype, maxIno)
		if err != nil {
			return err
		}
		if !fn(d) {
			return nil
		}
		off += d.recLen
	}
	return nil
}

func modeToFtype(mode uint16) uint8 {
	switch mode & sIFMT {
	case sIFREG:
		return ftRegular
	case sIFDIR:
		return ftDir
	case sIFLNK:
		return ftSymlink
	case sIFCHR:
		return ftChrdev
	case sIFBLK:
		return ftBlkdev
	case sIFIFO:
		return ftFifo
	case sIFSOCK:
		return ftSock
	}
	return ftUnknown
}

func ftypeToType(ft uint8) vfs.Type {
	switch ft {
	case ftRegular:
		return vfs.TypeRegular
	case ftDir:
		return vfs.TypeDir
	case ftSymlink:
		return vfs.TypeSymlink
	case ftUnknown:
		return vfs.TypeUnknown
	}
	return vfs.TypeOther
}
