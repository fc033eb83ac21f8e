// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package syscall

import "unsafe"

// Hosted mode: when a GOOS=tamago binary runs as a Linux process (how the
// port is tested, runtime.BootInfo() == 0 and the runtime entered through the
// ELF entry point), paths are served by the host kernel so that tests can
// read their testdata and use temporary directories. On bare metal this file
// is inert: hosted() is false and no system call instruction is executed.

// hosted reports whether the program runs as a Linux process (pushed by
// runtime/os_tamago.go).
func hosted() bool

// hostSyscall6 executes a Linux system call (host_tamago_amd64.s).
func hostSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r uintptr, errno uintptr)

// Linux/amd64 system call numbers.
const (
	hostSysRead       = 0
	hostSysWrite      = 1
	hostSysClose      = 3
	hostSysFstat      = 5
	hostSysLseek      = 8
	hostSysPread64    = 17
	hostSysPwrite64   = 18
	hostSysFsync      = 74
	hostSysFtruncate  = 77
	hostSysGetcwd     = 79
	hostSysChdir      = 80
	hostSysFchmod     = 91
	hostSysGetdents64 = 217
	hostSysOpenat     = 257
	hostSysMkdirat    = 258
	hostSysFchownat   = 260
	hostSysNewfstatat = 262
	hostSysUnlinkat   = 263
	hostSysRenameat   = 264
	hostSysLinkat     = 265
	hostSysSymlinkat  = 266
	hostSysReadlinkat = 267
	hostSysFchmodat   = 268
	hostSysUtimensat  = 280

	hostAtFdcwd           = -100
	hostAtSymlinkNofollow = 0x100
	hostAtRemovedir       = 0x200
	hostOCloexec          = 0x80000
)

// hostCwd is AT_FDCWD as a system call argument.
var hostCwd = func() uintptr { d := int64(hostAtFdcwd); return uintptr(d) }()

func hostCall(trap uintptr, a ...uintptr) (uintptr, error) {
	var x [6]uintptr
	copy(x[:], a)
	r, e := hostSyscall6(trap, x[0], x[1], x[2], x[3], x[4], x[5])
	if e != 0 {
		return r, Errno(e)
	}
	return r, nil
}

func hostPath(path string) (*byte, error) {
	return BytePtrFromString(path)
}

func hostPathCall(trap uintptr, path string, a ...uintptr) (uintptr, error) {
	p, err := hostPath(path)
	if err != nil {
		return 0, err
	}
	args := append([]uintptr{hostCwd, uintptr(unsafe.Pointer(p))}, a...)
	return hostCall(trap, args...)
}

func hostOpen(path string, mode int, perm uint32) (int, error) {
	r, err := hostPathCall(hostSysOpenat, path, uintptr(mode|hostOCloexec), uintptr(perm))
	if err != nil {
		return -1, err
	}
	return fdAdd(&fdFile{kind: fdHost, host: int(r)}), nil
}

// hostStat is Linux/amd64's struct stat.
type hostStat struct {
	Dev     uint64
	Ino     uint64
	Nlink   uint64
	Mode    uint32
	Uid     uint32
	Gid     uint32
	_       int32
	Rdev    uint64
	Size    int64
	Blksize int64
	Blocks  int64
	Atime   Timespec
	Mtime   Timespec
	Ctime   Timespec
	_       [3]int64
}

func (h *hostStat) convert(st *Stat_t) {
	*st = Stat_t{
		Dev: int64(h.Dev), Ino: h.Ino, Mode: h.Mode, Nlink: uint32(h.Nlink),
		Uid: h.Uid, Gid: h.Gid, Rdev: int64(h.Rdev), Size: h.Size,
		Blksize: int32(h.Blksize), Blocks: int32(h.Blocks),
		Atime: h.Atime.Sec, AtimeNsec: h.Atime.Nsec,
		Mtime: h.Mtime.Sec, MtimeNsec: h.Mtime.Nsec,
		Ctime: h.Ctime.Sec, CtimeNsec: h.Ctime.Nsec,
	}
}

func hostStatPath(path string, st *Stat_t, flags uintptr) error {
	var h hostStat
	if _, err := hostPathCall(hostSysNewfstatat, path, uintptr(unsafe.Pointer(&h)), flags); err != nil {
		return err
	}
	h.convert(st)
	return nil
}

func hostFstat(fd int, st *Stat_t) error {
	var h hostStat
	if _, err := hostCall(hostSysFstat, uintptr(fd), uintptr(unsafe.Pointer(&h))); err != nil {
		return err
	}
	h.convert(st)
	return nil
}

// hostReadDirent reads Linux dirent64 records and rewrites them as this
// package's Dirent records (Reclen, Name) into buf.
func hostReadDirent(fd int, buf []byte) (int, error) {
	in := make([]byte, len(buf))
	r, err := hostCall(hostSysGetdents64, uintptr(fd), uintptr(unsafe.Pointer(&in[0])), uintptr(len(in)))
	if err != nil {
		return 0, err
	}
	in = in[:r]
	n := 0
	for len(in) >= 19 {
		reclen := int(in[16]) | int(in[17])<<8
		if reclen < 19 || reclen > len(in) {
			break
		}
		name := in[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out := 2 + len(name)
		if n+out > len(buf) {
			// getdents64 records never grow by more than the
			// header difference, so this only happens with a tiny
			// buffer: report what fits.
			break
		}
		buf[n] = byte(out)
		buf[n+1] = byte(out >> 8)
		copy(buf[n+2:], name)
		n += out
		in = in[reclen:]
	}
	return n, nil
}

// hostPathCall2 is for calls that take a bare path (no directory fd).
func hostPathCall2(trap uintptr, path string, a ...uintptr) (uintptr, error) {
	p, err := hostPath(path)
	if err != nil {
		return 0, err
	}
	return hostCall(trap, append([]uintptr{uintptr(unsafe.Pointer(p))}, a...)...)
}
