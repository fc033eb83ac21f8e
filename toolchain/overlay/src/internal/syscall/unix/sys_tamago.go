// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

// GOOS=tamago counterparts of the js files of this package: there is no
// kernel, so socket message calls fail with ENOSYS and descriptors are
// always blocking.

package unix

import "syscall"

// UTIME_OMIT leaves a time stamp unchanged in UtimesNano.
const UTIME_OMIT = -0x2

func RecvfromInet4(fd int, p []byte, flags int, from *syscall.SockaddrInet4) (int, error) {
	return 0, syscall.ENOSYS
}

func RecvfromInet6(fd int, p []byte, flags int, from *syscall.SockaddrInet6) (n int, err error) {
	return 0, syscall.ENOSYS
}

func SendtoInet4(fd int, p []byte, flags int, to *syscall.SockaddrInet4) (err error) {
	return syscall.ENOSYS
}

func SendtoInet6(fd int, p []byte, flags int, to *syscall.SockaddrInet6) (err error) {
	return syscall.ENOSYS
}

func SendmsgNInet4(fd int, p, oob []byte, to *syscall.SockaddrInet4, flags int) (n int, err error) {
	return 0, syscall.ENOSYS
}

func SendmsgNInet6(fd int, p, oob []byte, to *syscall.SockaddrInet6, flags int) (n int, err error) {
	return 0, syscall.ENOSYS
}

func RecvmsgInet4(fd int, p, oob []byte, flags int, from *syscall.SockaddrInet4) (n, oobn int, recvflags int, err error) {
	return 0, 0, 0, syscall.ENOSYS
}

func RecvmsgInet6(fd int, p, oob []byte, flags int, from *syscall.SockaddrInet6) (n, oobn int, recvflags int, err error) {
	return 0, 0, 0, syscall.ENOSYS
}

func IsNonblock(fd int) (nonblocking bool, err error) { return false, nil }

func HasNonblockFlag(flag int) bool { return false }

func Fcntl(fd int, cmd int, arg int) (int, error) { return 0, syscall.ENOSYS }
