// Extended processor state: XSAVE-managed AVX registers for the boot CPU and
// every application processor.
//
// Go's runtime takes its AVX paths (memmove and memclr of large blocks,
// IndexByte, and others) only when CPUID reports AVX and the operating
// system has enabled the AVX state: CR4.OSXSAVE set and XCR0's SSE and AVX
// bits set (Intel SDM vol. 1, 13.3 "Enabling the XSAVE Feature Set and
// XSAVE-Enabled Features"; AMD APM vol. 2, 11.5.2). Nothing in the kernel
// saves vector state beyond X15 across an interrupt (docs/irq.md): the
// interrupt entry runs no vector code but Relay's ABI wrapper's zeroing of
// X15, a legacy SSE instruction that leaves the upper halves alone, so AVX
// code that is interrupted finds its registers intact, as SSE code does.
// AVX-512 state (XCR0 bits 5-7) is left disabled, so the runtime does not
// use it.

//go:build tamago && amd64

#include "textflag.h"

#define CPUID1_ECX_XSAVE	(1<<26)
#define CPUID1_ECX_AVX		(1<<28)
#define CR4_OSXSAVE		(1<<18)
#define XCR0_X87		(1<<0)
#define XCR0_SSE		(1<<1)
#define XCR0_AVX		(1<<2)

// avx_enable sets CR4.OSXSAVE and XCR0 = x87|SSE, plus AVX when the CPU has
// it and XCR0 can hold it (CPUID leaf 0xd, sub-leaf 0, EAX). A CPU without
// XSAVE is left as it is. Clobbers AX, BX, CX, DX, SI, DI; needs a stack for its
// caller's CALL only.
TEXT avx_enable(SB),NOSPLIT|NOFRAME,$0
	MOVL	$1, AX
	XORL	CX, CX
	CPUID
	TESTL	$CPUID1_ECX_XSAVE, CX
	JZ	done
	MOVL	CX, DI			// leaf 1's ECX: CPUID overwrites EAX-EDX

	MOVQ	CR4, AX
	ORQ	$CR4_OSXSAVE, AX
	MOVQ	AX, CR4

	MOVL	$(XCR0_X87|XCR0_SSE), SI	// SI: the XCR0 being built
	TESTL	$CPUID1_ECX_AVX, DI
	JZ	set
	MOVL	$0xd, AX
	XORL	CX, CX
	CPUID				// EAX: XCR0 bits the CPU supports
	TESTL	$XCR0_AVX, AX
	JZ	set
	ORL	$XCR0_AVX, SI
set:
	MOVL	SI, AX
	XORL	DX, DX
	XORL	CX, CX			// XCR0
	BYTE	$0x0f; BYTE $0x01; BYTE $0xd1	// XSETBV
done:
	RET

// apstart_xsave is what an application processor calls first, in place of
// the tamago amd64 package's ·apstart (see apBoot.plan): it enables the
// AVX state on this CPU, which the runtime will use here as on the boot
// CPU, then goes on to ·apstart, whose address apBoot.plan saved.
TEXT apstart_xsave(SB),NOSPLIT|NOFRAME,$0
	CALL	avx_enable(SB)
	MOVQ	·tamagoAPStart(SB), AX
	JMP	AX

// func apStartXSAVEAddr() uint64
TEXT ·apStartXSAVEAddr(SB),NOSPLIT,$0-8
	MOVQ	$apstart_xsave(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func readXCR0() (xcr0 uint64, ok bool)
//
// ok is false when CR4.OSXSAVE is clear (XGETBV would fault).
TEXT ·readXCR0(SB),NOSPLIT,$0-16
	MOVQ	CR4, AX
	TESTQ	$CR4_OSXSAVE, AX
	JZ	off
	XORL	CX, CX
	BYTE	$0x0f; BYTE $0x01; BYTE $0xd0	// XGETBV
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, xcr0+0(FP)
	MOVB	$1, ok+8(FP)
	RET
off:
	MOVQ	$0, xcr0+0(FP)
	MOVB	$0, ok+8(FP)
	RET
