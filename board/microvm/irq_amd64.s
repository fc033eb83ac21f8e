// Device interrupt entry (see irq_amd64.go).

//go:build tamago && amd64

#include "textflag.h"

#define LAPIC_EOI	0xfee000b0
#define LAPIC_ICRL	0xfee00300
// ICR low: destination shorthand "all excluding self" (Intel SDM vol. 3A,
// 11.6.1, bits 19:18 = 11b), fixed delivery, edge; OR-ed with the vector.
#define ICR_ALL_BUT_SELF	(3<<18)
#define WAKE_VECTOR	0xf0	// idle_amd64.go wakeVector
#define SIGTRAP	5		// syscall.SIGTRAP, irqSignal

// irqTable is one 5-byte CALL per device vector, irqFirst+i at entry i
// (irqVectors entries). The gate of vector irqFirst+i points at entry i;
// the return address the CALL pushes tells irqCommon which entry ran.
TEXT ·irqTable(SB),NOSPLIT|NOFRAME,$0
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)
	CALL	·irqCommon(SB)

// irqCommon marks the vector pending, acknowledges the local APIC, relays
// SIGTRAP to the runtime (which makes the dispatcher goroutine runnable)
// and wakes the other CPUs so that one halted in the runtime's poller sees
// it. The interrupted code can be anything, Go or assembly: every general
// register is saved, and X15, which the ABI0 wrapper of os/signal.Relay
// zeroes (ABIInternal's fixed zero register) but assembly code may use.
//
// Stack at entry: 0 return address into irqTable, 8 RIP, 16 CS, 24 RFLAGS,
// 32 RSP, 40 SS (AMD APM vol. 2, 8.9.3 "Interrupt Stack Frame").
TEXT ·irqCommon(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	PUSHQ	BX
	PUSHQ	CX
	PUSHQ	DX
	PUSHQ	SI
	PUSHQ	DI
	PUSHQ	BP
	PUSHQ	R8
	PUSHQ	R9
	PUSHQ	R10
	PUSHQ	R11
	PUSHQ	R12
	PUSHQ	R13
	PUSHQ	R14
	PUSHQ	R15
	SUBQ	$16, SP
	MOVOU	X15, 0(SP)

	// entry index = (return address - irqTable) / 5 - 1
	MOVQ	136(SP), AX
	MOVQ	$·irqTable(SB), CX
	SUBQ	CX, AX
	XORQ	DX, DX
	MOVQ	$5, CX
	DIVQ	CX
	DECQ	AX
	LOCK
	BTSQ	AX, ·irqPending(SB)

	MOVL	$LAPIC_EOI, AX
	MOVL	$0, 0(AX)

	SUBQ	$16, SP
	MOVQ	$SIGTRAP, 0(SP)
	CALL	os∕signal·Relay(SB)
	ADDQ	$16, SP

	MOVL	$LAPIC_ICRL, AX
	MOVL	$(ICR_ALL_BUT_SELF|WAKE_VECTOR), 0(AX)

	MOVOU	0(SP), X15
	ADDQ	$16, SP
	POPQ	R15
	POPQ	R14
	POPQ	R13
	POPQ	R12
	POPQ	R11
	POPQ	R10
	POPQ	R9
	POPQ	R8
	POPQ	BP
	POPQ	DI
	POPQ	SI
	POPQ	DX
	POPQ	CX
	POPQ	BX
	POPQ	AX
	ADDQ	$8, SP
	IRETQ

// func irqTableAddr() uintptr
TEXT ·irqTableAddr(SB),NOSPLIT,$0-8
	MOVQ	$·irqTable(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
