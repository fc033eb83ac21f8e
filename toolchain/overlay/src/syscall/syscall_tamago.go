// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

// Package syscall for GOOS=tamago. There is no kernel: the package offers
// the POSIX-shaped API that os, net and time expect (the js/wasip1 shape),
// backed by an in-process descriptor table (fd_tamago.go) holding the
// console and pipes. Everything else fails with a clean Errno.

package syscall

import (
	errorspkg "errors"
	"internal/oserror"
	"internal/strconv"
	"sync"
	"unsafe"
)

const direntSize = 8 + 8 + 2 + 256

// Dirent is the record ReadDirent would return; tamago has no directories
// yet, so none are ever produced.
type Dirent struct {
	Reclen uint16
	Name   [256]byte
}

func direntIno(buf []byte) (uint64, bool) { return 1, true }

func direntReclen(buf []byte) (uint64, bool) {
	return readInt(buf, unsafe.Offsetof(Dirent{}.Reclen), unsafe.Sizeof(Dirent{}.Reclen))
}

func direntNamlen(buf []byte) (uint64, bool) {
	reclen, ok := direntReclen(buf)
	if !ok {
		return 0, false
	}
	return reclen - uint64(unsafe.Offsetof(Dirent{}.Name)), true
}

const PathMax = 256

// An Errno is an error number; the values are Linux's (tables_tamago.go).
type Errno uintptr

func (e Errno) Error() string {
	if 0 <= int(e) && int(e) < len(errorstr) {
		if s := errorstr[e]; s != "" {
			return s
		}
	}
	return "errno " + strconv.Itoa(int(e))
}

func (e Errno) Is(target error) bool {
	switch target {
	case oserror.ErrPermission:
		return e == EACCES || e == EPERM
	case oserror.ErrExist:
		return e == EEXIST || e == ENOTEMPTY
	case oserror.ErrNotExist:
		return e == ENOENT
	case errorspkg.ErrUnsupported:
		return e == ENOSYS || e == ENOTSUP || e == EOPNOTSUPP
	}
	return false
}

func (e Errno) Temporary() bool {
	return e == EINTR || e == EMFILE || e.Timeout()
}

func (e Errno) Timeout() bool {
	return e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT
}

// A Signal number. On tamago signals are interrupts relayed by board code
// (os/signal.Relay); the numbers follow Linux so that names are familiar.
type Signal int

const (
	SIGHUP  Signal = 1
	SIGINT  Signal = 2
	SIGQUIT Signal = 3
	SIGILL  Signal = 4
	SIGTRAP Signal = 5
	SIGABRT Signal = 6
	SIGBUS  Signal = 7
	SIGFPE  Signal = 8
	SIGKILL Signal = 9
	SIGUSR1 Signal = 10
	SIGSEGV Signal = 11
	SIGUSR2 Signal = 12
	SIGPIPE Signal = 13
	SIGALRM Signal = 14
	SIGTERM Signal = 15
	SIGCHLD Signal = 17
)

var signals = [...]string{
	SIGHUP: "hangup", SIGINT: "interrupt", SIGQUIT: "quit", SIGILL: "illegal instruction",
	SIGTRAP: "trace/breakpoint trap", SIGABRT: "aborted", SIGBUS: "bus error",
	SIGFPE: "floating point exception", SIGKILL: "killed", SIGUSR1: "user defined signal 1",
	SIGSEGV: "segmentation fault", SIGUSR2: "user defined signal 2", SIGPIPE: "broken pipe",
	SIGALRM: "alarm clock", SIGTERM: "terminated", SIGCHLD: "child exited",
}

func (s Signal) Signal() {}

func (s Signal) String() string {
	if 0 <= s && int(s) < len(signals) {
		if str := signals[s]; str != "" {
			return str
		}
	}
	return "signal " + strconv.Itoa(int(s))
}

const (
	Stdin  = 0
	Stdout = 1
	Stderr = 2
)

const (
	O_RDONLY = 0
	O_WRONLY = 1
	O_RDWR   = 2

	O_CREAT     = 0100
	O_CREATE    = O_CREAT
	O_EXCL      = 0200
	O_NOCTTY    = 0400
	O_TRUNC     = 01000
	O_APPEND    = 02000
	O_NONBLOCK  = 04000
	O_SYNC      = 010000
	O_DIRECTORY = 0200000
	O_NOFOLLOW  = 0400000

	O_CLOEXEC = 0
)

const (
	F_DUPFD = 0
	F_GETFD = 1
	F_SETFD = 2
	F_GETFL = 3
	F_SETFL = 4
)

const (
	S_IFMT   = 0170000
	S_IFSOCK = 0140000
	S_IFLNK  = 0120000
	S_IFREG  = 0100000
	S_IFBLK  = 0060000
	S_IFDIR  = 0040000
	S_IFCHR  = 0020000
	S_IFIFO  = 0010000

	S_ISUID = 0004000
	S_ISGID = 0002000
	S_ISVTX = 0001000

	S_IRUSR = 0400
	S_IWUSR = 0200
	S_IXUSR = 0100
	S_IRWXU = 0700
	S_IRWXG = 070
	S_IRWXO = 07
)

type Stat_t struct {
	Dev       int64
	Ino       uint64
	Mode      uint32
	Nlink     uint32
	Uid       uint32
	Gid       uint32
	Rdev      int64
	Size      int64
	Blksize   int32
	Blocks    int32
	Atime     int64
	AtimeNsec int64
	Mtime     int64
	MtimeNsec int64
	Ctime     int64
	CtimeNsec int64
}

// ForkLock exists for source compatibility; there are no processes.
var ForkLock sync.RWMutex

type WaitStatus uint32

func (w WaitStatus) Exited() bool       { return false }
func (w WaitStatus) ExitStatus() int    { return 0 }
func (w WaitStatus) Signaled() bool     { return false }
func (w WaitStatus) Signal() Signal     { return 0 }
func (w WaitStatus) CoreDump() bool     { return false }
func (w WaitStatus) Stopped() bool      { return false }
func (w WaitStatus) Continued() bool    { return false }
func (w WaitStatus) StopSignal() Signal { return 0 }
func (w WaitStatus) TrapCause() int     { return 0 }

type Rusage struct {
	Utime Timeval
	Stime Timeval
}

type ProcAttr struct {
	Dir   string
	Env   []string
	Files []uintptr
	Sys   *SysProcAttr
}

type SysProcAttr struct{}

func Syscall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err Errno) { return 0, 0, ENOSYS }

func Syscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err Errno) {
	return 0, 0, ENOSYS
}

func RawSyscall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err Errno) { return 0, 0, ENOSYS }

func RawSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err Errno) {
	return 0, 0, ENOSYS
}

// Sysctl answers the one key os.Hostname asks for.
func Sysctl(key string) (string, error) {
	if key == "kern.hostname" {
		return "tamago", nil
	}
	return "", ENOSYS
}

const ImplementsGetwd = true

func Getwd() (string, error) {
	var buf [PathMax * 16]byte
	n, err := Getcwd(buf[:])
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// Getcwd is "/" on bare metal, the process's directory in hosted mode.
func Getcwd(buf []byte) (int, error) {
	if len(buf) < 1 {
		return 0, ERANGE
	}
	if hosted() {
		r, err := hostCall(hostSysGetcwd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if err != nil {
			return 0, err
		}
		if r > 0 && buf[r-1] == 0 {
			r--
		}
		return int(r), nil
	}
	buf[0] = '/'
	return 1, nil
}

func Chdir(path string) error {
	if !hosted() {
		return ENOSYS
	}
	_, err := hostPathCall2(hostSysChdir, path)
	return err
}

func Fchdir(fd int) error { return ENOSYS }

func Getuid() int                  { return 0 }
func Getgid() int                  { return 0 }
func Geteuid() int                 { return 0 }
func Getegid() int                 { return 0 }
func Getgroups() ([]int, error)    { return []int{0}, nil }
func Getpid() int                  { return 1 }
func Getppid() int                 { return 0 }
func Umask(mask int) (oldmask int) { return 022 }

func Gettimeofday(tv *Timeval) error    { return ENOSYS }
func Kill(pid int, signum Signal) error { return ENOSYS }

func Sendfile(outfd int, infd int, offset *int64, count int) (written int, err error) {
	return 0, ENOSYS
}

func StartProcess(argv0 string, argv []string, attr *ProcAttr) (pid int, handle uintptr, err error) {
	return 0, 0, ENOSYS
}

func Wait4(pid int, wstatus *WaitStatus, options int, rusage *Rusage) (wpid int, err error) {
	return 0, ENOSYS
}

type Iovec struct{} // unused

type Timespec struct {
	Sec  int64
	Nsec int64
}

type Timeval struct {
	Sec  int64
	Usec int64
}

func setTimespec(sec, nsec int64) Timespec { return Timespec{Sec: sec, Nsec: nsec} }

func setTimeval(sec, usec int64) Timeval { return Timeval{Sec: sec, Usec: usec} }
