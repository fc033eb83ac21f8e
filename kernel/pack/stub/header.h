/*
 * The packed image's header, written by mkimage (kernel/pack/image.go, which
 * holds the same offsets) right after the stub's code, at the linker symbol
 * pack_header. All fields are little-endian u32 physical addresses or byte
 * counts: the stub runs before paging, below 4 GiB.
 */
#ifndef PACK_HEADER_H
#define PACK_HEADER_H

#define HDR_MAGIC_VALUE	0x4b504644	/* "DFPK" */
#define HDR_VERSION	1

#define HDR_MAGIC	0	/* HDR_MAGIC_VALUE */
#define HDR_VERS	4	/* HDR_VERSION */
#define HDR_ENTRY	8	/* the kernel's PVH entry (its XEN_ELFNOTE_PHYS32_ENTRY) */
#define HDR_NSEG	12	/* segments in the table that follows the header */
#define HDR_PAYLOAD	16	/* address of the compressed bytes */
#define HDR_PAYLEN	20	/* their length, a multiple of 4 */
#define HDR_SUM_A	24	/* checksum of the payload (unpack.c: payload_sum) */
#define HDR_SUM_B	28
#define HDR_STACK	32	/* initial stack pointer of the stub */
#define HDR_SIZE	48	/* then HDR_NSEG segment records */

#define SEG_DST		0	/* where the segment's bytes go (its p_paddr) */
#define SEG_SRC		4	/* its LZ4 block, inside the payload */
#define SEG_CSIZE	8	/* the block's length */
#define SEG_DSIZE	12	/* decompressed length (p_filesz) */
#define SEG_ZERO	16	/* bytes to clear after it (p_memsz - p_filesz) */
#define SEG_FLAGS	20	/* SEGF_* */
#define SEG_SIZE	24

#define SEGF_CALLS	1	/* CALL displacements were made absolute (kernel/pack/bcj.go) */

#endif
