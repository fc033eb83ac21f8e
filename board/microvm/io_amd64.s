// Port I/O, CPUID, MSRs and the CPU-exception entry stubs.

//go:build tamago && amd64

#include "textflag.h"
#include "layout.h"

// func inb(port uint16) uint8
TEXT ·inb(SB),NOSPLIT,$0-9
	MOVW	port+0(FP), DX
	BYTE	$0xec			// in al, dx
	MOVB	AX, ret+8(FP)
	RET

// func outb(port uint16, v uint8)
TEXT ·outb(SB),NOSPLIT,$0-3
	MOVW	port+0(FP), DX
	MOVB	v+2(FP), AX
	BYTE	$0xee			// out dx, al
	RET

// func inl(port uint16) uint32
TEXT ·inl(SB),NOSPLIT,$0-12
	MOVW	port+0(FP), DX
	BYTE	$0xed			// in eax, dx
	MOVL	AX, ret+8(FP)
	RET

// func rdtsc() uint64
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB),NOSPLIT,$0-24
	MOVL	leaf+0(FP), AX
	MOVL	sub+4(FP), CX
	CPUID
	MOVL	AX, eax+8(FP)
	MOVL	BX, ebx+12(FP)
	MOVL	CX, ecx+16(FP)
	MOVL	DX, edx+20(FP)
	RET

// func rdmsr(msr uint32) uint64
TEXT ·rdmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	RDMSR
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+8(FP)
	RET

// func wrmsr(msr uint32, v uint64)
TEXT ·wrmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	MOVQ	v+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	WRMSR
	RET

// func haltForever()
TEXT ·haltForever(SB),NOSPLIT|NOFRAME,$0
	CLI
hlt:
	HLT
	JMP	hlt

// func tripleFault()
TEXT ·tripleFault(SB),NOSPLIT|NOFRAME,$0
	CLI
	MOVQ	$IDTR, AX
	MOVQ	$0, 0(AX)
	MOVQ	$0, 8(AX)
	LIDT	0(AX)
	INT	$3
	JMP	·haltForever(SB)

// Exception entry. Each stub pushes a zero error code when the CPU does not
// push one (Intel SDM vol. 3A, 6.13 "Error Code"), then the vector, so that
// excCommon sees one frame layout:
//
//	0(SP) vector, 8 error code, 16 RIP, 24 CS, 32 RFLAGS, 40 RSP, 48 SS
//
// excCommon saves every register into faultRegs, then makes the faulting
// code appear to have called faultEntry: it pushes the faulting RIP on the
// faulting stack and returns (IRETQ) into faultEntry. The report then runs
// as ordinary Go code on the faulting goroutine, whose stack trace thereby
// includes the faulting function. A second fault while one is being
// reported (faulting != 0) ends the VM with the failure status.

TEXT ·exc0(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$0
	JMP	·excCommon(SB)

TEXT ·exc1(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$1
	JMP	·excCommon(SB)

TEXT ·exc3(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$3
	JMP	·excCommon(SB)

TEXT ·exc4(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$4
	JMP	·excCommon(SB)

TEXT ·exc5(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$5
	JMP	·excCommon(SB)

TEXT ·exc6(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$6
	JMP	·excCommon(SB)

TEXT ·exc8(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$8
	JMP	·excCommon(SB)

TEXT ·exc10(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$10
	JMP	·excCommon(SB)

TEXT ·exc11(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$11
	JMP	·excCommon(SB)

TEXT ·exc12(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$12
	JMP	·excCommon(SB)

TEXT ·exc13(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$13
	JMP	·excCommon(SB)

TEXT ·exc14(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$14
	JMP	·excCommon(SB)

TEXT ·exc16(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$16
	JMP	·excCommon(SB)

TEXT ·exc17(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$17
	JMP	·excCommon(SB)

TEXT ·exc18(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$18
	JMP	·excCommon(SB)

TEXT ·exc19(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$19
	JMP	·excCommon(SB)

TEXT ·exc20(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$20
	JMP	·excCommon(SB)

TEXT ·exc21(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$21
	JMP	·excCommon(SB)

// Offsets in faultRegs, in the order of the FaultRegs struct (regs.go).
#define R_RAX 0
#define R_RBX 8
#define R_RCX 16
#define R_RDX 24
#define R_RSI 32
#define R_RDI 40
#define R_RBP 48
#define R_RSP 56
#define R_R8 64
#define R_R9 72
#define R_R10 80
#define R_R11 88
#define R_R12 96
#define R_R13 104
#define R_R14 112
#define R_R15 120
#define R_RIP 128
#define R_RFLAGS 136
#define R_CS 144
#define R_SS 152
#define R_CR2 160
#define R_VECTOR 168
#define R_ERR 176

TEXT ·excCommon(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	MOVQ	$1, AX
	XCHGQ	AX, ·faulting(SB)
	TESTQ	AX, AX
	JNZ	nested
	POPQ	AX

	MOVQ	AX, ·faultRegs+R_RAX(SB)
	MOVQ	BX, ·faultRegs+R_RBX(SB)
	MOVQ	CX, ·faultRegs+R_RCX(SB)
	MOVQ	DX, ·faultRegs+R_RDX(SB)
	MOVQ	SI, ·faultRegs+R_RSI(SB)
	MOVQ	DI, ·faultRegs+R_RDI(SB)
	MOVQ	BP, ·faultRegs+R_RBP(SB)
	MOVQ	R8, ·faultRegs+R_R8(SB)
	MOVQ	R9, ·faultRegs+R_R9(SB)
	MOVQ	R10, ·faultRegs+R_R10(SB)
	MOVQ	R11, ·faultRegs+R_R11(SB)
	MOVQ	R12, ·faultRegs+R_R12(SB)
	MOVQ	R13, ·faultRegs+R_R13(SB)
	MOVQ	R14, ·faultRegs+R_R14(SB)
	MOVQ	R15, ·faultRegs+R_R15(SB)
	MOVQ	0(SP), AX
	MOVQ	AX, ·faultRegs+R_VECTOR(SB)
	MOVQ	8(SP), AX
	MOVQ	AX, ·faultRegs+R_ERR(SB)
	MOVQ	16(SP), AX
	MOVQ	AX, ·faultRegs+R_RIP(SB)
	MOVQ	24(SP), AX
	MOVQ	AX, ·faultRegs+R_CS(SB)
	MOVQ	32(SP), AX
	MOVQ	AX, ·faultRegs+R_RFLAGS(SB)
	MOVQ	40(SP), AX
	MOVQ	AX, ·faultRegs+R_RSP(SB)
	MOVQ	48(SP), AX
	MOVQ	AX, ·faultRegs+R_SS(SB)
	MOVQ	CR2, AX
	MOVQ	AX, ·faultRegs+R_CR2(SB)

	// fake a call from the faulting instruction to faultEntry
	MOVQ	40(SP), BX
	SUBQ	$8, BX
	MOVQ	16(SP), AX
	MOVQ	AX, 0(BX)
	MOVQ	BX, 40(SP)
	MOVQ	$·faultEntry(SB), AX
	MOVQ	AX, 16(SP)

	MOVQ	·faultRegs+R_RAX(SB), AX
	MOVQ	·faultRegs+R_RBX(SB), BX
	ADDQ	$16, SP
	IRETQ

nested:
	// out 0xf4, 0x11: isa-debug-exit failure (QEMU status 35)
	MOVL	$0x11, AX
	BYTE	$0xe6; BYTE $0xf4
	JMP	·haltForever(SB)

// faultEntry is "called" by the faulting instruction (see excCommon).
TEXT ·faultEntry(SB),NOSPLIT|NOFRAME,$0
	CALL	·faultReport(SB)
	JMP	·haltForever(SB)

// excStubTable holds the stubs' ABI0 addresses for the IDT, in the order
// of excVectors (stubs_amd64.go).
DATA	excStubTable<>+0(SB)/8, $·exc0(SB)
DATA	excStubTable<>+8(SB)/8, $·exc1(SB)
DATA	excStubTable<>+16(SB)/8, $·exc3(SB)
DATA	excStubTable<>+24(SB)/8, $·exc4(SB)
DATA	excStubTable<>+32(SB)/8, $·exc5(SB)
DATA	excStubTable<>+40(SB)/8, $·exc6(SB)
DATA	excStubTable<>+48(SB)/8, $·exc8(SB)
DATA	excStubTable<>+56(SB)/8, $·exc10(SB)
DATA	excStubTable<>+64(SB)/8, $·exc11(SB)
DATA	excStubTable<>+72(SB)/8, $·exc12(SB)
DATA	excStubTable<>+80(SB)/8, $·exc13(SB)
DATA	excStubTable<>+88(SB)/8, $·exc14(SB)
DATA	excStubTable<>+96(SB)/8, $·exc16(SB)
DATA	excStubTable<>+104(SB)/8, $·exc17(SB)
DATA	excStubTable<>+112(SB)/8, $·exc18(SB)
DATA	excStubTable<>+120(SB)/8, $·exc19(SB)
DATA	excStubTable<>+128(SB)/8, $·exc20(SB)
DATA	excStubTable<>+136(SB)/8, $·exc21(SB)
GLOBL	excStubTable<>(SB), RODATA, $144

// func excStubAddr(i int) uintptr
TEXT ·excStubAddr(SB),NOSPLIT,$0-16
	MOVQ	i+0(FP), AX
	MOVQ	$excStubTable<>(SB), BX
	MOVQ	(BX)(AX*8), AX
	MOVQ	AX, ret+8(FP)
	RET

// func readCR3() uint64
TEXT ·readCR3(SB),NOSPLIT,$0-8
	MOVQ	CR3, AX
	MOVQ	AX, ret+0(FP)
	RET

// Local APIC registers (Intel SDM vol. 3A, 11.4.1 / 11.5.4).
#define LAPIC_EOI	0xfee000b0
#define LAPIC_LVT_TIMER	0xfee00320
#define LAPIC_TIMER_INIT	0xfee00380

#define LAPIC_ID	0xfee00020	// bits 31:24: this CPU's local APIC id

// wakeEntry is the gate of the wake vectors (the idle timer's, the one
// irqCommon broadcasts, and the tamago package's IRQ_WAKEUP, which
// goos.Wake sends): it notes the wakeup in wakePending[this CPU's LAPIC
// id], acknowledges and returns; HLT in idleHalt then completes.
TEXT ·wakeEntry(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	PUSHQ	BX
	MOVL	$LAPIC_ID, AX
	MOVL	0(AX), AX
	SHRL	$24, AX
	MOVQ	$·wakePending(SB), BX
	MOVB	$1, (BX)(AX*1)
	MOVL	$LAPIC_EOI, AX
	MOVL	$0, 0(AX)
	POPQ	BX
	POPQ	AX
	IRETQ

// func idleHalt(lvt uint32, count uint32)
//
// Arms the local APIC timer (one-shot, count 0: not armed) and halts until
// an interrupt. Interrupts are off while arming, and STI's one-instruction
// shadow makes STI;HLT atomic, so a timer that expires at once still wakes
// the HLT rather than being handled before it.
//
// A wakeup sent after the runtime checked its wake condition (a
// semaphore, the poller's flag) but before the CLI here is taken by
// wakeEntry at once and would leave the HLT to sleep until the timer, 10
// ms later: so with interrupts off idleHalt first looks for a wakeup noted
// since the last halt, and returns without halting if there is one (at
// worst a wakeup meant for an earlier wait: the caller rechecks and comes
// back). The note is cleared when the halt ends; the caller's recheck
// covers a wakeup taken between the HLT and the clearing, since senders
// set the condition before they send.
TEXT ·idleHalt(SB),NOSPLIT,$0-8
	MOVL	lvt+0(FP), BX
	MOVL	count+4(FP), CX
	MOVL	$LAPIC_ID, AX
	MOVL	0(AX), DX
	SHRL	$24, DX
	MOVQ	$·wakePending(SB), SI
	CLI
	CMPB	(SI)(DX*1), $0
	JNE	woken
	MOVL	$LAPIC_LVT_TIMER, AX
	MOVL	BX, 0(AX)
	MOVL	$LAPIC_TIMER_INIT, AX
	MOVL	CX, 0(AX)
	STI
	HLT
	MOVB	$0, (SI)(DX*1)
	RET
woken:
	MOVB	$0, (SI)(DX*1)
	STI
	RET

// func wakeEntryAddr() uintptr
TEXT ·wakeEntryAddr(SB),NOSPLIT,$0-8
	MOVQ	$·wakeEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
