// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

#include "textflag.h"

// Linux system calls used to run a GOOS=tamago image as a process.
#define SYS_write		1
#define SYS_mmap		9
#define SYS_nanosleep		35
#define SYS_exit_group		231
#define SYS_clock_gettime	228
#define SYS_getrandom		318

#define PROT_READ_WRITE		0x3
#define MAP_PRIVATE_ANON_FIXED_NOREPLACE	0x100022

// cpuinit maps [RamStart, RamStart+RamSize), moves the stack to its top
// minus RamStackOffset and enters the runtime. Running before any Go code,
// it must not touch g.
TEXT cpuinit(SB),NOSPLIT|NOFRAME,$0
	MOVQ	·RamStart(SB), DI
	MOVQ	·RamSize(SB), SI
	MOVL	$PROT_READ_WRITE, DX
	MOVL	$MAP_PRIVATE_ANON_FIXED_NOREPLACE, R10
	MOVQ	$-1, R8
	MOVL	$0, R9
	MOVL	$SYS_mmap, AX
	SYSCALL
	CMPQ	AX, ·RamStart(SB)
	JEQ	mapped
	MOVL	$111, DI	// cannot map the RAM region
	MOVL	$SYS_exit_group, AX
	SYSCALL
mapped:
	MOVQ	·RamStart(SB), SP
	ADDQ	·RamSize(SB), SP
	SUBQ	·RamStackOffset(SB), SP
	JMP	_rt0_tamago_start(SB)

TEXT ·CPUinit(SB),NOSPLIT|NOFRAME,$0
	JMP	cpuinit(SB)

TEXT ·sysExit(SB),NOSPLIT,$0-4
	MOVL	code+0(FP), DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	RET

TEXT ·sysWrite(SB),NOSPLIT,$0-32
	MOVQ	fd+0(FP), DI
	MOVQ	p+8(FP), SI
	MOVQ	n+16(FP), DX
	MOVL	$SYS_write, AX
	SYSCALL
	MOVQ	AX, ret+24(FP)
	RET

TEXT ·sysClockGettime(SB),NOSPLIT,$16-8
	MOVL	$0, DI		// CLOCK_REALTIME
	LEAQ	0(SP), SI
	MOVL	$SYS_clock_gettime, AX
	SYSCALL
	MOVQ	0(SP), AX	// sec
	IMULQ	$1000000000, AX
	ADDQ	8(SP), AX	// nsec
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·sysGetrandom(SB),NOSPLIT,$0-24
	MOVQ	p+0(FP), DI
	MOVQ	n+8(FP), SI
	MOVL	$0, DX
	MOVL	$SYS_getrandom, AX
	SYSCALL
	MOVQ	AX, ret+16(FP)
	RET

TEXT ·sysNanosleep(SB),NOSPLIT,$16-8
	MOVQ	ns+0(FP), AX
	MOVQ	$0, DX
	MOVQ	$1000000000, CX
	DIVQ	CX
	MOVQ	AX, 0(SP)	// tv_sec
	MOVQ	DX, 8(SP)	// tv_nsec
	LEAQ	0(SP), DI
	MOVQ	$0, SI
	MOVL	$SYS_nanosleep, AX
	SYSCALL
	RET
