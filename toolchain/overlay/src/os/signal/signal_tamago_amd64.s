// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

#include "textflag.h"

// Interrupt handlers call ·Relay from assembly (ABI0). Referencing it here
// makes the compiler emit its ABI0 wrapper.
TEXT ·relayABI0(SB),NOSPLIT|NOFRAME,$0
	JMP	·Relay(SB)
