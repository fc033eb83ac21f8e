// Inter-processor interrupts (see task_amd64.go).

//go:build tamago && amd64

#include "textflag.h"

#define LAPIC_ICRL	0xfee00300
#define LAPIC_ICRH	0xfee00310
#define ICR_DLV_STATUS	(1<<12)	// send pending (Intel SDM vol. 3A, 11.6.1)

// func lapicIPI(apicid uint32, icrl uint32)
//
// Writes ICR high (the destination) then ICR low (vector and delivery
// mode, which sends) with interrupts off, and waits until the local APIC
// has sent it. The pair is one operation on this CPU's APIC: nothing else
// on this CPU may write ICR high between the two writes (today only a
// goroutine could, and without asynchronous preemption none runs there
// in between; interrupt handlers send by shorthand, ICR low alone).
TEXT ·lapicIPI(SB),NOSPLIT,$0-8
	MOVL	apicid+0(FP), AX
	SHLL	$24, AX
	MOVL	icrl+4(FP), BX
	MOVL	$LAPIC_ICRH, CX
	MOVL	$LAPIC_ICRL, DX
	PUSHFQ
	CLI
	MOVL	AX, 0(CX)
	MOVL	BX, 0(DX)
pending:
	MOVL	0(DX), AX
	TESTL	$ICR_DLV_STATUS, AX
	JNZ	pending
	POPFQ
	RET
