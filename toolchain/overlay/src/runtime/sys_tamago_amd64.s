// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

#define MSR_FS_BASE	0xc0000100
#define SYS_arch_prctl	158
#define ARCH_SET_FS	0x1002

// settls(DI) points FS so that -8(FS) is the word at DI (g's TLS slot),
// the static-ELF convention cmd/link uses for tamago (like linux).
//
// On bare metal (CPL 0) this writes IA32_FS_BASE; when the image runs as a
// Linux process (CPL 3, the testing mode) it asks the kernel through
// arch_prctl. The privilege level is read from the low bits of CS.
TEXT runtime·settls(SB),NOSPLIT,$0
	ADDQ	$8, DI
	BYTE	$0x8c; BYTE $0xc8	// MOVL CS, AX
	ANDL	$3, AX
	JNZ	user
	MOVL	$MSR_FS_BASE, CX
	MOVQ	DI, AX
	MOVQ	DI, DX
	SHRQ	$32, DX
	WRMSR
	RET
user:
	MOVQ	DI, SI
	MOVQ	$ARCH_SET_FS, DI
	MOVQ	$SYS_arch_prctl, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	2(PC)
	MOVL	$0xf1, 0xf1	// crash
	RET
