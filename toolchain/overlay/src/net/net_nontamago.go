// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !tamago

package net

import "context"

// Damselfly: the socket hooks exist only on GOOS=tamago (net_tamago.go).

func hookDial(ctx context.Context, network, address string) (bool, Conn, error) {
	return false, nil, nil
}

func hookListen(ctx context.Context, network, address string) (bool, Listener, error) {
	return false, nil, nil
}

func hookListenPacket(ctx context.Context, network, address string) (bool, PacketConn, error) {
	return false, nil, nil
}
