// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

// Entry points of a GOOS=tamago image.
//
// The ELF e_entry is _rt0_amd64_tamago, entered in 64-bit mode: that is how
// Linux starts the image as a process (tests run that way) with argc/argv on
// the stack.
//
// The Xen PVH note written by cmd/link points at _rt0_amd64_tamago_pvh,
// entered in 32-bit protected mode with paging off and EBX holding the
// physical address of struct hvm_start_info (QEMU -kernel, Firecracker,
// cloud-hypervisor). The board's cpuinit (runtime/goos contract) must then
// cope with 32-bit mode: the tamago module's amd64 cpuinit does, and it
// clobbers EBX, so EBX is saved first at a fixed low physical address.
//
// Both paths run the board's cpuinit, which sets up the CPU and a stack at
// RamStart+RamSize-RamStackOffset and jumps to _rt0_tamago_start.

// Physical address of the 32-bit slot holding the PVH start_info address.
// It lies below the tamago module's AP trampoline (0x4000-0x6fff) and page
// tables (0x9000-0xcfff), in memory no firmware structure uses after boot.
#define TAMAGO_BOOTINFO_SLOT 0x3ff8

TEXT _rt0_amd64_tamago(SB),NOSPLIT|NOFRAME,$0
	MOVQ	SP, runtime·tamagoUserSP(SB)
	// Reference the PVH entry so that the linker keeps it (and writes
	// the PVH note for it).
	LEAQ	_rt0_amd64_tamago_pvh(SB), AX
	JMP	cpuinit(SB)

TEXT _rt0_amd64_tamago_pvh(SB),NOSPLIT|NOFRAME,$0
	// movl %ebx, TAMAGO_BOOTINFO_SLOT: opcode 0x89, ModRM 0x1c (reg EBX,
	// SIB follows), SIB 0x25 (no base, no index: absolute disp32). With
	// a SIB byte the displacement is absolute in both 32-bit and 64-bit
	// mode (ModRM 0x1d alone would be RIP-relative in 64-bit mode).
	BYTE	$0x89; BYTE $0x1c; BYTE $0x25
	LONG	$TAMAGO_BOOTINFO_SLOT
	// JMP rel32 encodes the same in both modes.
	JMP	cpuinit(SB)

// _rt0_tamago_start is where the board's cpuinit jumps once in 64-bit mode
// with a usable stack.
TEXT _rt0_tamago_start(SB),NOSPLIT|NOFRAME,$0
	MOVQ	runtime·tamagoUserSP(SB), AX
	CMPQ	AX, $0
	JNE	user

	// Booted through PVH: keep the start_info address, no arguments.
	MOVL	$TAMAGO_BOOTINFO_SLOT, BX
	MOVL	(BX), BX
	MOVQ	BX, runtime·bootInfo(SB)
	MOVQ	$1, DI
	MOVQ	$runtime·tamagoArgv(SB), SI
	JMP	runtime·rt0_go(SB)

user:
	// Linux process: 0(AX) is argc, argv follows.
	MOVQ	0(AX), DI
	LEAQ	8(AX), SI
	JMP	runtime·rt0_go(SB)

// tamagoMStart is the first code of an M started by newosproc through
// goos.Task. The tamago module's AP code arrives here with SP at the top of
// g0's stack, after calling runtime·settls with DI=g and storing g at
// -8(FS), which overwrote g0.stack.lo (see mOS.g0lo). Restore it, point FS
// at m.tls as on the boot CPU, then run the M.
TEXT runtime·tamagoMStart(SB),NOSPLIT|NOFRAME,$0
	get_tls(CX)
	MOVQ	g(CX), R14
	MOVQ	g_m(R14), BX
	MOVQ	(m_mOS+mOS_g0lo)(BX), AX
	MOVQ	AX, (g_stack+stack_lo)(R14)
	LEAQ	m_tls(BX), DI
	CALL	runtime·settls(SB)
	get_tls(CX)
	MOVQ	R14, g(CX)
	JMP	runtime·mstart(SB)
