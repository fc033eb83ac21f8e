package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestErrnoIs(t *testing.T) {
	for e := EPERM; e <= ENOTSUP; e++ {
		if int(e) >= len(sysErrno) || sysErrno[e] == 0 {
			t.Errorf("%v (%d) has no syscall twin", e, int(e))
			continue
		}
		wrapped := fmt.Errorf("ext2: inode 13: %w", e)
		if !errors.Is(wrapped, sysErrno[e]) {
			t.Errorf("errors.Is(%v, syscall %v) = false", wrapped, sysErrno[e])
		}
		if e != EIO && errors.Is(wrapped, syscall.EIO) {
			t.Errorf("%v matches syscall.EIO", e)
		}
	}
	full := fmt.Errorf("write f: %w", ENOSPC)
	if !errors.Is(full, syscall.ENOSPC) || errors.Is(full, syscall.EFBIG) || errors.Is(full, fs.ErrPermission) {
		t.Errorf("ENOSPC matches the wrong things")
	}
	if Errno(0).Is(syscall.Errno(0)) || Errno(99).Is(syscall.ENOSPC) {
		t.Error("out-of-range Errno matched a syscall errno")
	}
	if !errors.Is(fmt.Errorf("x: %w", EROFS), fs.ErrPermission) {
		t.Error("EROFS no longer reads as ErrPermission")
	}
}
