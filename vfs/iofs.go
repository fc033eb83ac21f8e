package vfs

import (
	"io/fs"
)

// FS returns an io/fs view of the namespace. Names follow io/fs rules (unrooted, slash
// separated, no "." or ".." elements); invalid names fail with fs.ErrInvalid.
func (v *VFS) FS() fs.FS { return ioFS{v} }

type ioFS struct{ v *VFS }

var (
	_ fs.ReadFileFS = ioFS{}
	_ fs.ReadDirFS  = ioFS{}
	_ fs.StatFS     = ioFS{}
	_ fs.ReadLinkFS = ioFS{}
)

func (x ioFS) name(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return name, nil
}

func (x ioFS) Open(name string) (fs.File, error) {
	if _, err := x.name("open", name); err != nil {
		return nil, err
	}
	f, err := x.v.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (x ioFS) ReadFile(name string) ([]byte, error) {
	if _, err := x.name("readfile", name); err != nil {
		return nil, err
	}
	return x.v.ReadFile(name)
}

func (x ioFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if _, err := x.name("readdir", name); err != nil {
		return nil, err
	}
	return x.v.ReadDir(name)
}

func (x ioFS) Stat(name string) (fs.FileInfo, error) {
	if _, err := x.name("stat", name); err != nil {
		return nil, err
	}
	return x.v.Stat(name)
}

func (x ioFS) ReadLink(name string) (string, error) {
	if _, err := x.name("readlink", name); err != nil {
		return "", err
	}
	return x.v.Readlink(name)
}

func (x ioFS) Lstat(name string) (fs.FileInfo, error) {
	if _, err := x.name("lstat", name); err != nil {
		return nil, err
	}
	return x.v.Lstat(name)
}
