package vfs

import (
	"io/fs"
	"time"
)

// Ino names a node inside one filesystem. It is what the namecache stores for a resolved entry
// and what every VOP addresses; it is meaningful only together with its mount.
type Ino uint64

// Type is a node's kind, as stored in directory entries.
type Type uint8

const (
	TypeUnknown Type = iota
	TypeRegular
	TypeDir
	TypeSymlink
	TypeOther // devices, fifos, sockets: listed and stat'ed, not opened
)

// FileMode converts a Type to the io/fs mode type bits.
func (t Type) FileMode() fs.FileMode {
	switch t {
	case TypeDir:
		return fs.ModeDir
	case TypeSymlink:
		return fs.ModeSymlink
	case TypeOther:
		return fs.ModeIrregular
	}
	return 0
}

// Attr is a node's attributes as returned by Getattr.
type Attr struct {
	Ino   Ino
	Type  Type
	Perm  fs.FileMode // permission bits only (0o7777 incl. setuid/setgid/sticky)
	Nlink uint32
	UID   uint32
	GID   uint32
	Size  int64
	// Blocks is the space allocated, in bytes; less than Size for a sparse file.
	Blocks int64
	Atime  time.Time
	Mtime  time.Time
	Ctime  time.Time
}

// SetAttr selects which attributes Setattr changes.
type SetAttr struct {
	Perm  *fs.FileMode
	UID   *uint32
	GID   *uint32
	Size  *int64
	Atime *time.Time
	Mtime *time.Time
}

// DirEntry is one entry of a directory listing. Readdir never returns "." or "..".
type DirEntry struct {
	Name string
	Ino  Ino
	Type Type
}

// LookupResult is one resolved component of a Lookup tail.
type LookupResult struct {
	Ino  Ino
	Type Type
}
