package vfs

import (
	"errors"
	"io"
	"io/fs"
	"sync"
	"time"
)

// File is an open file or directory. ReadAt and WriteAt are safe for concurrent use; Read,
// Write and Seek share an offset under the file's lock.
type File struct {
	v    *VFS
	m    *Mount
	ino  Ino
	typ  Type
	name string
	flag int

	mu        sync.Mutex
	off       int64
	closed    bool
	dirCookie uint64
	dirDone   bool
}

var (
	_ fs.ReadDirFile = (*File)(nil)
	_ io.ReaderAt    = (*File)(nil)
	_ io.WriterAt    = (*File)(nil)
	_ io.Seeker      = (*File)(nil)
)

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.name }

func (f *File) check(op string) error {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	return nil
}

// ReadAt reads len(p) bytes at off; it returns io.EOF when fewer are available.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if f.typ == TypeDir {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: EISDIR}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: EINVAL}
	}
	done := 0
	for done < len(p) {
		m := &Msg{Op: OpRead, Ino: f.ino, Buf: p[done:], Off: off + int64(done)}
		err := f.m.do(m)
		done += m.N
		if err == io.EOF || (err == nil && m.N == 0) {
			return done, io.EOF
		}
		if err != nil {
			return done, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
	}
	return done, nil
}

// WriteAt writes p at off.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if f.flag&accMode == O_RDONLY {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: EBADF}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: EINVAL}
	}
	m := &Msg{Op: OpWrite, Ino: f.ino, Buf: p, Off: off}
	if err := f.m.do(m); err != nil {
		return m.N, &fs.PathError{Op: "write", Path: f.name, Err: err}
	}
	if m.N < len(p) {
		return m.N, &fs.PathError{Op: "write", Path: f.name, Err: io.ErrShortWrite}
	}
	return m.N, nil
}

// Read reads from the file offset.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	off := f.off
	f.mu.Unlock()
	n, err := f.ReadAt(p, off)
	f.mu.Lock()
	f.off = off + int64(n)
	f.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Write writes at the file offset (at the end with O_APPEND).
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.flag&O_APPEND != 0 {
		st, err := f.statLocked()
		if err != nil {
			return 0, err
		}
		f.off = st.Size()
	}
	off := f.off
	f.mu.Unlock()
	n, err := f.WriteAt(p, off)
	f.mu.Lock()
	f.off = off + int64(n)
	return n, err
}

// Seek sets the offset for the next Read or Write.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.check("seek"); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		st, err := f.statLocked()
		if err != nil {
			return 0, err
		}
		base = st.Size()
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: EINVAL}
	}
	if base+offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: EINVAL}
	}
	f.off = base + offset
	if f.typ == TypeDir && f.off == 0 {
		f.dirCookie, f.dirDone = 0, false
	}
	return f.off, nil
}

func (f *File) statLocked() (fs.FileInfo, error) {
	m := &Msg{Op: OpGetattr, Ino: f.ino}
	if err := f.m.do(m); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: err}
	}
	return &fileInfo{name: baseName(f.name), attr: m.Attr}, nil
}

// Stat returns the file's FileInfo.
func (f *File) Stat() (fs.FileInfo, error) {
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	return f.statLocked()
}

// Truncate changes the file's size.
func (f *File) Truncate(size int64) error {
	if err := f.check("truncate"); err != nil {
		return err
	}
	if f.flag&accMode == O_RDONLY {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: EBADF}
	}
	return pathErr("truncate", f.name, f.m.do(&Msg{Op: OpTruncate, Ino: f.ino, Off: size}))
}

// Sync makes the file's data durable.
func (f *File) Sync() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	if f.m.ro {
		return nil
	}
	return pathErr("sync", f.name, f.m.do(&Msg{Op: OpFsync, Ino: f.ino}))
}

// Close releases the file.
func (f *File) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	f.mu.Unlock()
	err := f.m.do(&Msg{Op: OpClose, Ino: f.ino})
	f.m.opens.Add(-1)
	return pathErr("close", f.name, err)
}

// ReadDir reads directory entries in filesystem order, as fs.ReadDirFile specifies: with
// n > 0 at most n entries and io.EOF at the end; with n <= 0 all remaining entries.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	if err := f.check("readdir"); err != nil {
		return nil, err
	}
	if f.typ != TypeDir {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: ENOTDIR}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fs.DirEntry
	for !f.dirDone && (n <= 0 || len(out) < n) {
		want := 256
		if n > 0 {
			want = n - len(out)
		}
		m := &Msg{Op: OpReaddir, Dir: f.ino, Cookie: f.dirCookie, Max: want}
		if err := f.m.do(m); err != nil {
			return out, &fs.PathError{Op: "readdir", Path: f.name, Err: err}
		}
		if len(m.Entries) == 0 {
			f.dirDone = true
			break
		}
		f.dirCookie = m.Next
		for _, e := range m.Entries {
			out = append(out, &dirEntry{f: f, e: e})
		}
	}
	if n > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

// readAll reads the file from the start to its end.
func (f *File) readAll() ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, st.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

// fileInfo is the fs.FileInfo of a node.
type fileInfo struct {
	name string
	attr Attr
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.attr.Size }
func (i *fileInfo) Mode() fs.FileMode  { return i.attr.Type.FileMode() | i.attr.Perm }
func (i *fileInfo) ModTime() time.Time { return i.attr.Mtime }
func (i *fileInfo) IsDir() bool        { return i.attr.Type == TypeDir }
func (i *fileInfo) Sys() any           { return &i.attr }

// dirEntry is the fs.DirEntry of one Readdir result.
type dirEntry struct {
	f *File
	e DirEntry
}

func (d *dirEntry) Name() string { return d.e.Name }
func (d *dirEntry) IsDir() bool  { return d.e.Type == TypeDir }
func (d *dirEntry) Type() fs.FileMode {
	if d.e.Type == TypeUnknown {
		if info, err := d.Info(); err == nil {
			return info.Mode().Type()
		}
	}
	return d.e.Type.FileMode()
}

func (d *dirEntry) Info() (fs.FileInfo, error) {
	m := &Msg{Op: OpGetattr, Ino: d.e.Ino}
	if err := d.f.m.do(m); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: d.e.Name, Err: err}
	}
	return &fileInfo{name: d.e.Name, attr: m.Attr}, nil
}

func (d *dirEntry) String() string { return fs.FormatDirEntry(d) }
