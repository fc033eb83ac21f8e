/*
 * Entry of the packed image's boot stub: 32-bit x86, GNU as syntax.
 *
 * The loader (QEMU's PVH option ROM, Firecracker, Cloud Hypervisor) enters
 * here through the image's XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected
 * mode, paging off, flat segments, interrupts off, with EBX = physical
 * address of hvm_start_info (Xen docs/misc/pvh.pandoc). We unpack the
 * kernel (unpack.c), then enter the kernel's own PVH entry in the same
 * state: EBX still start_info, CR0/CR4 and the segments untouched. The stack
 * is ours (the ABI gives none): mkimage reserves it past the payload, in the
 * segment's zero-filled tail, and it is dead once the kernel runs.
 */

#include "header.h"

#define COM1_DATA	0x3f8		/* 16550 transmit holding register */
#define COM1_LSR	0x3fd		/* line status register */
#define LSR_THRE	0x20		/* transmit holding register empty */
#define DEBUG_EXIT	0xf4		/* QEMU isa-debug-exit (iobase 0xf4) */
#define DEBUG_EXIT_FAIL	0x11		/* QEMU exits with (0x11<<1)|1 = 35 */

	.code32
	.section .text.entry, "ax"
	.globl	_start
_start:
	cli
	cld
	movl	(pack_header + HDR_STACK), %esp
	movl	%ebx, %ebp		/* start_info, callee-saved across C */
	pushl	%ebx			/* start_info, checked against the kernel's span */
	pushl	$pack_header
	call	unpack			/* EAX = 0, or a message for the console */
	addl	$8, %esp
	testl	%eax, %eax
	jnz	fail
	movl	%ebp, %ebx
	jmp	*(pack_header + HDR_ENTRY)	/* the kernel's PVH entry */

/* fail prints the NUL-terminated message at EAX on COM1, asks QEMU to exit
 * with status 35 (as the kernel's own failure paths do), and halts when no
 * isa-debug-exit device is present. */
fail:
	movl	%eax, %esi
1:	movb	(%esi), %cl
	testb	%cl, %cl
	jz	3f
	movw	$COM1_LSR, %dx
2:	inb	%dx, %al
	testb	$LSR_THRE, %al
	jz	2b
	movw	$COM1_DATA, %dx
	movb	%cl, %al
	outb	%al, %dx
	incl	%esi
	jmp	1b
3:	movb	$DEBUG_EXIT_FAIL, %al
	outb	%al, $DEBUG_EXIT
4:	cli
	hlt
	jmp	4b
	.section .note.GNU-stack,"",@progbits
