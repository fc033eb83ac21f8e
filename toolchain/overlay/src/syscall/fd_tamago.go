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
// in-memory pipes (os.Pipe, used by testing's example runner). Paths are
// served by the host kernel in hosted mode (host_tamago.go); on bare metal
// Open and friends fail with ENOENT or ENOSYS until a file system is
// attached.
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
	fdHost // a host kernel descriptor (hosted mode)
)

type fdFile struct {
	kind fdKind
	pipe *pipe
	host int
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
	if hosted() {
		return hostOpen(path, openmode, perm)
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
	if f.kind == fdHost {
		_, err := hostCall(hostSysClose, uintptr(f.host))
		return err
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
	case fdHost:
		r, err := hostCall(hostSysRead, uintptr(f.host), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		return int(r), err
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
	case fdHost:
		r, err := hostCall(hostSysWrite, uintptr(f.host), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		return int(r), err
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
	if f.kind == fdHost {
		return hostFstat(f.host, st)
	}
	*st = Stat_t{Ino: uint64(fd), Nlink: 1, Blksize: 4096}
	if f.kind == fdConsole {
		st.Mode = S_IFCHR | 0620
	} else {
		st.Mode = S_IFIFO | 0600
	}
	return nil
}

// hostFD returns the host descriptor behind fd, or an error for descriptors
// that have none (console, pipes).
func hostFD(fd int, err Errno) (int, error) {
	f, e := fdGet(fd)
	if e != nil {
		return -1, e
	}
	if f.kind != fdHost {
		return -1, err
	}
	return f.host, nil
}

func Pread(fd int, b []byte, offset int64) (int, error) {
	h, err := hostFD(fd, ESPIPE)
	if err != nil {
		return 0, err
	}
	r, err := hostCall(hostSysPread64, uintptr(h), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(offset))
	return int(r), err
}

func Pwrite(fd int, b []byte, offset int64) (int, error) {
	h, err := hostFD(fd, ESPIPE)
	if err != nil {
		return 0, err
	}
	r, err := hostCall(hostSysPwrite64, uintptr(h), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(offset))
	return int(r), err
}

func Seek(fd int, offset int64, whence int) (int64, error) {
	h, err := hostFD(fd, ESPIPE)
	if err != nil {
		return 0, err
	}
	r, err := hostCall(hostSysLseek, uintptr(h), uintptr(offset), uintptr(whence))
	return int64(r), err
}

func Dup(fd int) (int, error)  { return -1, ENOSYS }
func Dup2(fd, newfd int) error { return ENOSYS }

func Fsync(fd int) error {
	f, err := fdGet(fd)
	if err != nil || f.kind != fdHost {
		return err
	}
	_, err = hostCall(hostSysFsync, uintptr(f.host))
	return err
}

func Ftruncate(fd int, length int64) error {
	h, err := hostFD(fd, EINVAL)
	if err != nil {
		return err
	}
	_, err = hostCall(hostSysFtruncate, uintptr(h), uintptr(length))
	return err
}

func Fchmod(fd int, mode uint32) error {
	h, err := hostFD(fd, ENOSYS)
	if err != nil {
		return err
	}
	_, err = hostCall(hostSysFchmod, uintptr(h), uintptr(mode))
	return err
}

func Fchown(fd int, uid, gid int) error { return ENOSYS }

func ReadDirent(fd int, buf []byte) (int, error) {
	h, err := hostFD(fd, ENOTDIR)
	if err != nil {
		return 0, err
	}
	return hostReadDirent(h, buf)
}

func Stat(path string, st *Stat_t) error {
	if !hosted() {
		return ENOENT
	}
	return hostStatPath(path, st, 0)
}

func Lstat(path string, st *Stat_t) error {
	if !hosted() {
		return ENOENT
	}
	return hostStatPath(path, st, hostAtSymlinkNofollow)
}

// hostOnly runs a path call on the host in hosted mode, else fails with e.
func hostOnly(e Errno, trap uintptr, path string, a ...uintptr) error {
	if !hosted() {
		return e
	}
	_, err := hostPathCall(trap, path, a...)
	return err
}

func Mkdir(path string, perm uint32) error {
	return hostOnly(ENOSYS, hostSysMkdirat, path, uintptr(perm))
}
func Unlink(path string) error { return hostOnly(ENOENT, hostSysUnlinkat, path, 0) }
func Rmdir(path string) error  { return hostOnly(ENOENT, hostSysUnlinkat, path, hostAtRemovedir) }
func Chmod(path string, mode uint32) error {
	return hostOnly(ENOENT, hostSysFchmodat, path, uintptr(mode), 0)
}
func Chown(path string, uid, gid int) error {
	return hostOnly(ENOENT, hostSysFchownat, path, uintptr(uid), uintptr(gid), 0)
}
func Lchown(path string, uid, gid int) error {
	return hostOnly(ENOENT, hostSysFchownat, path, uintptr(uid), uintptr(gid), hostAtSymlinkNofollow)
}

func UtimesNano(path string, ts []Timespec) error {
	if len(ts) != 2 {
		return EINVAL
	}
	return hostOnly(ENOENT, hostSysUtimensat, path, uintptr(unsafe.Pointer(&ts[0])), 0)
}

func Rename(from, to string) error {
	if !hosted() {
		return ENOENT
	}
	p, err := hostPath(to)
	if err != nil {
		return err
	}
	_, err = hostPathCall(hostSysRenameat, from, hostCwd, uintptr(unsafe.Pointer(p)))
	return err
}

func Truncate(path string, length int64) error {
	fd, err := Open(path, O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer Close(fd)
	return Ftruncate(fd, length)
}

func Readlink(path string, buf []byte) (n int, err error) {
	if !hosted() {
		return 0, ENOENT
	}
	if len(buf) == 0 {
		return 0, EINVAL
	}
	r, err := hostPathCall(hostSysReadlinkat, path, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return int(r), err
}

func Link(path, link string) error {
	if !hosted() {
		return ENOSYS
	}
	p, err := hostPath(link)
	if err != nil {
		return err
	}
	_, err = hostPathCall(hostSysLinkat, path, hostCwd, uintptr(unsafe.Pointer(p)), 0)
	return err
}

func Symlink(path, link string) error {
	if !hosted() {
		return ENOSYS
	}
	p, err := hostPath(path)
	if err != nil {
		return err
	}
	l, err := hostPath(link)
	if err != nil {
		return err
	}
	_, err = hostCall(hostSysSymlinkat, uintptr(unsafe.Pointer(p)), hostCwd, uintptr(unsafe.Pointer(l)))
	return err
}
