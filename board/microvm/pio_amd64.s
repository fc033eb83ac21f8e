// 16- and 32-bit port I/O: the ACPI PM1 blocks (16 bits wide on QEMU's
// ICH9 and PIIX4) and PCI configuration mechanism #1 (0xcf8/0xcfc, 32 bits).

//go:build tamago && amd64

#include "textflag.h"

// func inw(port uint16) uint16
TEXT ·inw(SB),NOSPLIT,$0-10
	MOVW	port+0(FP), DX
	BYTE	$0x66; BYTE $0xed		// in ax, dx
	MOVW	AX, ret+8(FP)
	RET

// func outw(port uint16, v uint16)
TEXT ·outw(SB),NOSPLIT,$0-4
	MOVW	port+0(FP), DX
	MOVW	v+2(FP), AX
	BYTE	$0x66; BYTE $0xef		// out dx, ax
	RET

// func outl(port uint16, v uint32)
TEXT ·outl(SB),NOSPLIT,$0-8
	MOVW	port+0(FP), DX
	MOVL	v+4(FP), AX
	BYTE	$0xef				// out dx, eax
	RET
