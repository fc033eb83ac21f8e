package ext2

import (
	"errors"
	"io/fs"

	"damselfly/vfs"
)

type vfsMode = fs.FileMode

const (
	setuidBit = fs.ModeSetuid
	setgidBit = fs.ModeSetgid
	stickyBit = fs.ModeSticky
)

// fsMode reads a create/mkdir permission argument: the low 12 bits in POSIX layout.
func fsMode(perm uint32) fs.FileMode {
	m := fs.FileMode(perm & 0o777)
	if perm&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if perm&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if perm&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// permBits converts io/fs permission bits to the inode's low 12 mode bits.
func permBits(m fs.FileMode) uint16 {
	p := uint16(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

func isErr(err error, e vfs.Errno) bool { return errors.Is(err, e) }
