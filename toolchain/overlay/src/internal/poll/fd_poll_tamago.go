// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package poll

import (
	"syscall"
	"time"
)

// On tamago descriptors (console, pipes) are served in-process by package
// syscall and block there; nothing is pollable and deadlines are not
// supported on them. Network connections come from the hooks of package
// net and never reach this code.
type pollDesc struct {
	fd      *FD
	closing bool
}

func (pd *pollDesc) init(fd *FD) error { pd.fd = fd; return nil }

func (pd *pollDesc) close() {}

func (pd *pollDesc) evict() { pd.closing = true }

func (pd *pollDesc) prepare(mode int, isFile bool) error {
	if pd.closing {
		return errClosing(isFile)
	}
	return nil
}

func (pd *pollDesc) prepareRead(isFile bool) error { return pd.prepare('r', isFile) }

func (pd *pollDesc) prepareWrite(isFile bool) error { return pd.prepare('w', isFile) }

func (pd *pollDesc) wait(mode int, isFile bool) error {
	if pd.closing {
		return errClosing(isFile)
	}
	return ErrDeadlineExceeded
}

func (pd *pollDesc) waitRead(isFile bool) error { return pd.wait('r', isFile) }

func (pd *pollDesc) waitWrite(isFile bool) error { return pd.wait('w', isFile) }

func (pd *pollDesc) waitCanceled(mode int) {}

func (pd *pollDesc) pollable() bool { return false }

func (fd *FD) SetDeadline(t time.Time) error { return ErrNoDeadline }

func (fd *FD) SetReadDeadline(t time.Time) error { return ErrNoDeadline }

func (fd *FD) SetWriteDeadline(t time.Time) error { return ErrNoDeadline }

// IsPollDescriptor reports whether fd is the descriptor being used by the poller.
func IsPollDescriptor(fd uintptr) bool { return false }

var _ = syscall.ENOSYS
