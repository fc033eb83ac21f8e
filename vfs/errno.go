package vfs

import (
	"io/fs"
	"syscall"
)

// Errno is the error vocabulary shared by the VFS and the filesystems below it. Filesystems
// return these (wrapped with context) so the VFS can map them to io/fs sentinels without knowing
// each filesystem's own errors.
type Errno int

// The values mirror the POSIX names so that a later os-package adapter can map them 1:1.
const (
	EPERM Errno = iota + 1
	ENOENT
	EIO
	EBADF
	EACCES
	EBUSY
	EEXIST
	EXDEV
	ENOTDIR
	EISDIR
	EINVAL
	EFBIG
	ENOSPC
	EROFS
	EMLINK
	ENAMETOOLONG
	ENOTEMPTY
	ELOOP
	ENOTSUP
)

var errnoText = [...]string{
	EPERM:        "operation not permitted",
	ENOENT:       "no such file or directory",
	EIO:          "input/output error",
	EBADF:        "bad file descriptor",
	EACCES:       "permission denied",
	EBUSY:        "device or resource busy",
	EEXIST:       "file exists",
	EXDEV:        "cross-device link",
	ENOTDIR:      "not a directory",
	EISDIR:       "is a directory",
	EINVAL:       "invalid argument",
	EFBIG:        "file too large",
	ENOSPC:       "no space left on device",
	EROFS:        "read-only file system",
	EMLINK:       "too many links",
	ENAMETOOLONG: "file name too long",
	ENOTEMPTY:    "directory not empty",
	ELOOP:        "too many levels of symbolic links",
	ENOTSUP:      "operation not supported",
}

func (e Errno) Error() string {
	if e > 0 && int(e) < len(errnoText) {
		return errnoText[e]
	}
	return "unknown vfs error"
}

// sysErrno is each Errno's twin in package syscall, so that code above the
// VFS (an HTTP server telling "disk full" from other failures) can test for
// it without importing the VFS.
var sysErrno = [...]syscall.Errno{
	EPERM: syscall.EPERM, ENOENT: syscall.ENOENT, EIO: syscall.EIO, EBADF: syscall.EBADF,
	EACCES: syscall.EACCES, EBUSY: syscall.EBUSY, EEXIST: syscall.EEXIST, EXDEV: syscall.EXDEV,
	ENOTDIR: syscall.ENOTDIR, EISDIR: syscall.EISDIR, EINVAL: syscall.EINVAL, EFBIG: syscall.EFBIG,
	ENOSPC: syscall.ENOSPC, EROFS: syscall.EROFS, EMLINK: syscall.EMLINK,
	ENAMETOOLONG: syscall.ENAMETOOLONG, ENOTEMPTY: syscall.ENOTEMPTY, ELOOP: syscall.ELOOP,
	ENOTSUP: syscall.ENOTSUP,
}

// Is lets errors.Is(err, fs.ErrNotExist) and friends, and errors.Is(err,
// syscall.ENOSPC) and its kind, work on wrapped Errnos.
func (e Errno) Is(target error) bool {
	if se, ok := target.(syscall.Errno); ok {
		return e > 0 && int(e) < len(sysErrno) && sysErrno[e] == se
	}
	switch target {
	case fs.ErrNotExist:
		return e == ENOENT
	case fs.ErrExist:
		return e == EEXIST || e == ENOTEMPTY
	case fs.ErrPermission:
		return e == EPERM || e == EACCES || e == EROFS
	case fs.ErrInvalid:
		return e == EINVAL || e == EBADF
	}
	return false
}
