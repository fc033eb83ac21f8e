// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package syscall

import (
	"sync"
	"unsafe"
)

// The descriptor table. Descriptors 0, 1 and 2 are the console (reads see
// end of file, writes go to the runtime's console, goos.Printk); Pipe adds
// in-memory pipes (os.Pipe, used by testing's example runner). Paths are not
// served yet: Open and friends fail with ENOENT or ENOSYS until a file
// system is attached.
//
// fdTable is owned by this file; its mutex guards the map, each pipe has
// its own lock.
var fdTable = struct {
	sync.Mutex
	files map[int]*fdFile
	next  int
}{
	files: map[int]*fdFile{
		Stdin:  {kind: fdConsole},
		Stdout: {kind: fdConsole},
		Stderr: {kind: fdConsole},
	},
	next: 3,
}

type fdKind int

const (
	fdConsole fdKind = iota
	fdPipeRead
	fdPipeWrite
)

type fdFile struct {
	kind fdKind
	pipe *pipe
}

// A pipe is an in-memory byte queue; readers wait on cond.
type pipe struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte
	readers int
	writers int
}

// tamagoWrite is the runtime's console writer (pushed by runtime/os_tamago.go).
func tamagoWrite(fd uintptr, p unsafe.Pointer, n int32) int32

func fdGet(fd int) (*fdFile, error) {
	fdTable.Lock()
	f := fdTable.files[fd]
	fdTable.Unlock()
	if f == nil {
		return nil, EBADF
	}
	return f, nil
}

func fdAdd(f *fdFile) int {
	fdTable.Lock()
	defer fdTable.Unlock()
	fd := fdTable.next
	for fdTable.files[fd] != nil {
		fd++
	}
	fdTable.next = fd + 1
	fdTable.files[fd] = f
	return fd
}

func Open(path string, openmode int, perm uint32) (int, error) {
	if path == "" {
		return -1, EINVAL
	}
	return -1, ENOENT
}

func Close(fd int) error {
	fdTable.Lock()
	f := fdTable.files[fd]
	delete(fdTable.files, fd)
	if fd < fdTable.next {
		fdTable.next = fd
	}
	fdTable.Unlock()
	if f == nil {
		return EBADF
	}
	if p := f.pipe; p != nil {
		p.mu.Lock()
		if f.kind == fdPipeRead {
			p.readers--
		} else {
			p.writers--
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	return nil
}

func CloseOnExec(fd int) {}

func Read(fd int, b []byte) (int, error) {
	f, err := fdGet(fd)
	if err != nil {
		return 0, err
	}
	switch f.kind {
	case fdConsole:
		return 0, nil
	case fdPipeRead:
		p := f.pipe
		p.mu.Lock()
		defer p.mu.Unlock()
		for len(p.buf) == 0 && p.writers > 0 {
			p.cond.Wait()
		}
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		p.cond.Broadcast()
		return n, nil
	}
	return 0, EBADF
}

func Write(fd int, b []byte) (int, error) {
	f, err := fdGet(fd)
	if err != nil {
		return 0, err
	}
	switch f.kind {
	case fdConsole:
		if len(b) > 0 {
			tamagoWrite(uintptr(fd), unsafe.Pointer(&b[0]), int32(len(b)))
		}
		return len(b), nil
	case fdPipeWrite:
		p := f.pipe
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.readers == 0 {
			return 0, EPIPE
		}
		p.buf = append(p.buf, b...)
		p.cond.Broadcast()
		return len(b), nil
	}
	return 0, EBADF
}

func Pipe(fd []int) error {
	if len(fd) != 2 {
		return EINVAL
	}
	p := &pipe{readers: 1, writers: 1}
	p.cond.L = &p.mu
	fd[0] = fdAdd(&fdFile{kind: fdPipeRead, pipe: p})
	fd[1] = fdAdd(&fdFile{kind: fdPipeWrite, pipe: p})
	return nil
}

func Fstat(fd int, st *Stat_t) error {
	f, err := fdGet(fd)
	if err != nil {
		return err
	}
	*st = Stat_t{Ino: uint64(fd), Nlink: 1, Blksize: 4096}
	if f.kind == fdConsole {
		st.Mode = S_IFCHR | 0620
	} else {
		st.Mode = S_IFIFO | 0600
	}
	return nil
}

func Pread(fd int, b []byte, offset int64) (int, error)  { return 0, ESPIPE }
func Pwrite(fd int, b []byte, offset int64) (int, error) { return 0, ESPIPE }

func Seek(fd int, offset int64, whence int) (int64, error) {
	if _, err := fdGet(fd); err != nil {
		return 0, err
	}
	return 0, ESPIPE
}

func Dup(fd int) (int, error)  { return -1, ENOSYS }
func Dup2(fd, newfd int) error { return ENOSYS }

func Fsync(fd int) error {
	_, err := fdGet(fd)
	return err
}

func ReadDirent(fd int, buf []byte) (int, error) { return 0, ENOTDIR }

func Stat(path string, st *Stat_t) error                  { return ENOENT }
func Lstat(path string, st *Stat_t) error                 { return ENOENT }
func Mkdir(path string, perm uint32) error                { return ENOSYS }
func Unlink(path string) error                            { return ENOENT }
func Rmdir(path string) error                             { return ENOENT }
func Chmod(path string, mode uint32) error                { return ENOENT }
func Fchmod(fd int, mode uint32) error                    { return ENOSYS }
func Chown(path string, uid, gid int) error               { return ENOENT }
func Fchown(fd int, uid, gid int) error                   { return ENOSYS }
func Lchown(path string, uid, gid int) error              { return ENOENT }
func UtimesNano(path string, ts []Timespec) error         { return ENOENT }
func Rename(from, to string) error                        { return ENOENT }
func Truncate(path string, length int64) error            { return ENOENT }
func Ftruncate(fd int, length int64) error                { return EINVAL }
func Readlink(path string, buf []byte) (n int, err error) { return 0, ENOENT }
func Link(path, link string) error                        { return ENOSYS }
func Symlink(path, link string) error                     { return ENOSYS }
