// Boot CPU entry: from the PVH 32-bit entry to 64-bit Go.
//
// The toolchain's PVH entry (rt0_tamago_amd64.s) saves EBX and jumps here in
// 32-bit protected mode, paging off, flat segments, interrupts off (Xen
// docs/misc/pvh.pandoc; QEMU's and Firecracker's PVH loaders follow it). We
// replace the tamago module's amd64 cpuinit (build tag linkcpuinit) because
// it maps a fixed 6 GiB and takes RamSize as a link-time constant; here:
//
//   - the TSC at entry is kept for the boot_ms of the ready line;
//   - the 8259 PICs are masked, so the PIT we later calibrate against
//     cannot raise IRQ 0 through them;
//   - page tables identity-map MAPPED_GIB GiB with 2 MiB pages (so any RAM
//     above the 4 GiB hole is addressable), the 3-4 GiB MMIO window
//     uncached, and page 0 absent so nil dereferences fault (AMD64 APM
//     vol. 2, 5.3 "Long-Mode Page Translation");
//   - a GDT (null, 64-bit code 0x08, data 0x10) and an empty IDT, which the
//     tamago amd64 package fills (its load_idt reuses our tables);
//   - long mode (APM vol. 2, 14.6 "Enabling and Activating Long Mode");
//   - RamSize is the E820 RAM entry that holds RamStart, less DMA_SIZE at
//     its top, so the heap fits any -m (the Go side checks it again);
//   - a warm boot (a reset without power-off: the shell's reboot, QMP
//     system_reset, a triple fault) is told from a cold one by a mark left
//     in the board area; RAM still holds the last boot's data, so the
//     runtime is told to clear memory as it first hands it out (its
//     tamagoRAMDirty; warm_amd64.go);
//   - SP at RamStart+RamSize-RamStackOffset, as the runtime expects.
//
// Until the far return below runs in 32-bit mode, every instruction must
// encode identically in 32- and 64-bit mode: no REX prefixes and no
// RIP-relative operands (only constants and register-indirect addresses).

//go:build tamago && amd64

#include "textflag.h"
#include "layout.h"

TEXT cpuinit(SB),NOSPLIT|NOFRAME,$0
	CLI
	CLD

	RDTSC
	MOVL	$ENTRY_TSC, DI
	MOVL	AX, 0(DI)
	MOVL	DX, 4(DI)

	MOVL	$STACK32, SP

	// Copy hvm_start_info and its memory map into the board area. The
	// loader may leave them anywhere in low memory; QEMU's PVH option ROM
	// (q35, pc) keeps the map in page 0, which the page tables below leave
	// absent. Paging is still off here, so every address is reachable.
	// A map larger than the copy area stays where it is (the Go side then
	// refuses it: board.MaxMemmapEntries).
	MOVL	$BOOTINFO_SLOT, BX
	MOVL	0(BX), BX
	TESTL	BX, BX
	JZ	sidone
	CMPL	0(BX), $SI_MAGIC
	JNE	sidone
	MOVL	BX, SI
	MOVL	$SI_COPY, DI
	MOVL	$SI_SIZE_V1, CX
	REP;	MOVSB
	MOVL	$SI_COPY, BX
	MOVL	$BOOTINFO_SLOT, DI
	MOVL	BX, 0(DI)
	CMPL	SI_VERSION(BX), $1
	JCS	sidone
	CMPL	(SI_MEMMAP+4)(BX), $0
	JNE	sidone				// above 4 GiB: not reachable yet
	MOVL	SI_MEMMAP_N(BX), CX
	CMPL	CX, $MEMMAP_COPY_MAX
	JHI	sidone
	MOVL	SI_MEMMAP(BX), SI
	MOVL	$MEMMAP_COPY, DI
	MOVL	DI, SI_MEMMAP(BX)
	LEAL	(CX)(CX*2), CX			// entries * 24 bytes
	SHLL	$3, CX
	REP;	MOVSB
sidone:

	// mask both 8259s: mov al, 0xff; out 0x21, al; out 0xa1, al
	BYTE	$0xb0; BYTE $0xff
	BYTE	$0xe6; BYTE $0x21
	BYTE	$0xe6; BYTE $0xa1

	// zero the tables
	XORL	AX, AX
	MOVL	$PML4, DI
	MOVL	$(AREA_CLEAR/4), CX
	REP;	STOSL

	// PML4[0] -> PDPT
	MOVL	$PML4, DI
	MOVL	$(PDPT|3), 0(DI)		// P, RW

	// PDPT[i] -> PD0 + i*4 KiB
	MOVL	$PDPT, DI
	MOVL	$(PD0|3), AX
	MOVL	$MAPPED_GIB, CX
pdpt:
	MOVL	AX, 0(DI)
	ADDL	$0x1000, AX
	ADDL	$8, DI
	DECL	CX
	JNZ	pdpt

	// PD entries: 2 MiB pages, address j<<21 as DX:AX
	MOVL	$PD0, DI
	XORL	AX, AX
	XORL	DX, DX
	MOVL	$(MAPPED_GIB*512), CX
pd:
	MOVL	AX, BX
	ORL	$0x83, BX			// PS, RW, P
	MOVL	BX, 0(DI)
	MOVL	DX, 4(DI)
	ADDL	$0x200000, AX
	ADCL	$0, DX
	ADDL	$8, DI
	DECL	CX
	JNZ	pd

	// 3-4 GiB holds the LAPIC, I/O APICs, virtio-mmio and the GED: uncached
	MOVL	$(PD0+3*0x1000), DI
	MOVL	$512, CX
uc:
	ORL	$0x18, 0(DI)			// PCD, PWT
	ADDL	$8, DI
	DECL	CX
	JNZ	uc

	// first 2 MiB in 4 KiB pages, page 0 not present
	MOVL	$(PT0+8), DI
	MOVL	$0x1003, AX			// 4 KiB, RW, P
	MOVL	$511, CX
pt:
	MOVL	AX, 0(DI)
	ADDL	$0x1000, AX
	ADDL	$8, DI
	DECL	CX
	JNZ	pt
	MOVL	$PD0, DI
	MOVL	$(PT0|3), 0(DI)

	// GDT: null, code 0x08 (L, P, DPL 0, execute/read), data 0x10
	MOVL	$GDT, DI
	MOVL	$0x00209a00, 12(DI)
	MOVL	$0x00009200, 20(DI)
	MOVL	$GDTR, DI
	MOVL	$((GDT&0xffff)<<16 | 23), 0(DI)	// limit 23, base bits 0-15
	MOVL	$(GDT>>16), 4(DI)		// base bits 16-47
	LGDT	0(DI)

	// IDT: 256 empty gates
	MOVL	$IDTR, DI
	MOVL	$((IDT&0xffff)<<16 | 4095), 0(DI)
	MOVL	$(IDT>>16), 4(DI)
	LIDT	0(DI)

	// CR4.PAE, CR4.PGE
	MOVL	CR4, AX
	ORL	$(1<<5 | 1<<7), AX
	MOVL	AX, CR4

	MOVL	$PML4, AX
	MOVL	AX, CR3

	// EFER.LME, EFER.NXE
	MOVL	$MSR_EFER, CX
	RDMSR
	ORL	$(1<<8 | 1<<11), AX
	WRMSR

	// CR0.PG (PE is already set): now in compatibility mode
	MOVL	CR0, AX
	ORL	$(1<<31 | 1<<0), AX
	MOVL	AX, CR0

	// Far return to the 64-bit code segment. The target is the
	// instruction after RETF, found position-independently:
	BYTE	$0xe8; LONG $0			// call .+5
	BYTE	$0x58				// pop eax: eax = here
	BYTE	$0x83; BYTE $0xc0; BYTE $0x08	// add eax, 8 (pop+add+push+push+retf)
	BYTE	$0x6a; BYTE $0x08		// push 0x08
	BYTE	$0x50				// push eax
	BYTE	$0xcb				// retf

	// 64-bit mode
	MOVQ	$STACK32, SP
	MOVL	$0x10, AX
	BYTE	$0x8e; BYTE $0xd8		// mov ds, eax
	BYTE	$0x8e; BYTE $0xc0		// mov es, eax
	BYTE	$0x8e; BYTE $0xd0		// mov ss, eax
	BYTE	$0x8e; BYTE $0xe0		// mov fs, eax
	BYTE	$0x8e; BYTE $0xe8		// mov gs, eax

	// RamSize from the PVH memory map
	MOVL	$BOOTINFO_SLOT, BX
	MOVL	0(BX), BX
	TESTL	BX, BX
	JZ	ramdone
	CMPL	0(BX), $SI_MAGIC
	JNE	ramdone
	CMPL	SI_VERSION(BX), $1
	JCS	ramdone
	MOVQ	SI_MEMMAP(BX), SI
	MOVL	SI_MEMMAP_N(BX), CX
	MOVQ	runtime∕goos·RamStart(SB), DX
ramloop:
	TESTL	CX, CX
	JZ	ramdone
	CMPL	16(SI), $E820_RAM
	JNE	ramnext
	MOVQ	0(SI), AX
	CMPQ	AX, DX
	JHI	ramnext				// entry starts above RamStart
	ADDQ	8(SI), AX			// entry end
	CMPQ	AX, DX
	JLS	ramnext				// entry ends at or below RamStart
	SUBQ	DX, AX
	ANDQ	$~0xfff, AX
	SUBQ	$DMA_SIZE, AX
	JCS	ramdone
	CMPQ	AX, $MIN_HEAP
	JCS	ramdone
	MOVQ	AX, runtime∕goos·RamSize(SB)
	JMP	ramdone
ramnext:
	ADDQ	$MEMMAP_ENTRY, SI
	DECL	CX
	JMP	ramloop
ramdone:

	CALL	sse_enable(SB)
	CALL	avx_enable(SB)		// xsave_amd64.s

	// Warm boot: a cold boot finds WARM_MARK zero, as all fresh memory.
	MOVQ	$WARM_MAGIC, AX
	MOVQ	$WARM_MARK, BX
	CMPQ	AX, 0(BX)
	JEQ	warm
	MOVQ	AX, 0(BX)
	MOVQ	$0, (WARM_COUNT-WARM_MARK)(BX)
	JMP	warmdone
warm:
	INCQ	(WARM_COUNT-WARM_MARK)(BX)
	MOVB	$1, runtime·tamagoRAMDirty(SB)
warmdone:

	MOVQ	runtime∕goos·RamStart(SB), SP
	ADDQ	runtime∕goos·RamSize(SB), SP
	SUBQ	runtime∕goos·RamStackOffset(SB), SP

	STI
	JMP	_rt0_tamago_start(SB)

// func warmCount() uint64
TEXT ·warmCount(SB),NOSPLIT,$0-8
	MOVQ	$WARM_COUNT, AX
	MOVQ	0(AX), AX
	MOVQ	AX, ret+0(FP)
	RET

// func entryTSC() uint64
TEXT ·entryTSC(SB),NOSPLIT,$0-8
	MOVQ	$ENTRY_TSC, AX
	MOVQ	0(AX), AX
	MOVQ	AX, ret+0(FP)
	RET
