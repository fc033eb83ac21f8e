// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package net

import (
	"context"
	"errors"
)

// Socket hooks for GOOS=tamago. There is no kernel network stack: a network
// stack running in the program (a TCP/IP implementation over a NIC driver)
// serves net.Dial, net.Listen and net.ListenPacket, and everything built on
// them (net/http, ...), by setting these variables once at start-up, before
// any connection is made. Dialer and ListenConfig options other than the
// context (timeouts, KeepAlive, Control) are not passed on.
//
// With a hook unset the call fails with ErrNoNetworkStack.
var (
	DialFunc         func(ctx context.Context, network, address string) (Conn, error)
	ListenFunc       func(ctx context.Context, network, address string) (Listener, error)
	ListenPacketFunc func(ctx context.Context, network, address string) (PacketConn, error)
)

// ErrNoNetworkStack is returned by Dial, Listen and ListenPacket when no
// network stack has registered its hooks.
var ErrNoNetworkStack = errors.New("no network stack registered (GOOS=tamago: set net.DialFunc, net.ListenFunc, net.ListenPacketFunc)")

func hookDial(ctx context.Context, network, address string) (bool, Conn, error) {
	if DialFunc == nil {
		return true, nil, &OpError{Op: "dial", Net: network, Err: ErrNoNetworkStack}
	}
	c, err := DialFunc(ctx, network, address)
	return true, c, err
}

func hookListen(ctx context.Context, network, address string) (bool, Listener, error) {
	if ListenFunc == nil {
		return true, nil, &OpError{Op: "listen", Net: network, Err: ErrNoNetworkStack}
	}
	l, err := ListenFunc(ctx, network, address)
	return true, l, err
}

func hookListenPacket(ctx context.Context, network, address string) (bool, PacketConn, error) {
	if ListenPacketFunc == nil {
		return true, nil, &OpError{Op: "listen", Net: network, Err: ErrNoNetworkStack}
	}
	c, err := ListenPacketFunc(ctx, network, address)
	return true, c, err
}

func (fd *netFD) closeRead() error {
	if fd.fakeNetFD != nil {
		return fd.fakeNetFD.closeRead()
	}
	return errors.ErrUnsupported
}

func (fd *netFD) closeWrite() error {
	if fd.fakeNetFD != nil {
		return fd.fakeNetFD.closeWrite()
	}
	return errors.ErrUnsupported
}
