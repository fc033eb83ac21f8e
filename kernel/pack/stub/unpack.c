/*
 * The boot stub's work: check the packed image, decompress each kernel
 * segment to its physical address, clear its bss. Freestanding 32-bit C
 * (no libc, no SSE: the PVH entry leaves CR4.OSFXSR clear), called once from
 * entry.S with paging off, so addresses are physical.
 *
 * Nothing is trusted: a damaged payload must end in a message on the serial
 * console, never in a jump into garbage. The checksum covers the segment
 * table and the payload; the decoder checks every length and offset against
 * its buffers, like kernel/pack/lz4.go (the host's reference for this one).
 *
 * Speed matters more than size: under QEMU's TCG each guest instruction is
 * translated, so copies move 4 or 8 bytes per step instead of using REP
 * MOVSB (one dispatch per byte there).
 */

#include "header.h"

typedef unsigned int u32;
typedef unsigned char u8;
/* An address as an integer: 32 bits in the stub, 64 in the host harness
 * (decode_host.c), which builds this file too. */
typedef unsigned long uptr;
/* Unaligned 32-bit access that may alias any object. */
typedef u32 __attribute__((may_alias, aligned(1))) u32u;

#define LZ4_MIN_MATCH	4
#define LZ4_NIBBLE_MAX	15
#define LZ4_EXT_MAX	255
#define MAX_SEGMENTS	16
/* Lengths beyond this are corrupt: no segment is near 1 GiB. */
#define MAX_LENGTH	0x40000000u

static inline u32 rd(const void *hdr, u32 off) { return *(const u32u *)((const u8 *)hdr + off); }

/* The message buffer for fail in entry.S; in .data so the stub has no bss. */
static char msg[128] __attribute__((section(".data"))) = "x";

static char *put(char *p, const char *s)
{
	while (*s && p < msg + sizeof(msg) - 1)
		*p++ = *s++;
	*p = 0;
	return p;
}

static char *puthex(char *p, u32 v)
{
	char d[11];
	int i;

	d[0] = '0';
	d[1] = 'x';
	for (i = 0; i < 8; i++)
		d[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
	d[10] = 0;
	return put(p, d);
}

/* failure builds "damselfly: packed image: <what> <value>, halted\r\n". */
static const char *failure(const char *what, u32 v)
{
	char *p = put(msg, "damselfly: packed image: ");
	p = put(p, what);
	p = put(p, " ");
	p = puthex(p, v);
	put(p, ", halted\r\n");
	return msg;
}

/*
 * payload_sum is a Fletcher-style pair of 32-bit sums over little-endian
 * words: cheap (two adds per word) and sensitive to both the value and the
 * position of a damaged word, which a plain sum is not.
 */
static void payload_sum(const u32u *p, u32 words, u32 *pa, u32 *pb)
{
	u32 a = 0, b = 0;

	while (words--) {
		a += *p++;
		b += a;
	}
	*pa = a;
	*pb = b;
}

/* readlen adds LZ4 extension bytes to *n; 0 on success. */
static int readlen(const u8 **ipp, const u8 *iend, u32 *n)
{
	const u8 *ip = *ipp;
	u32 b;

	do {
		if (ip >= iend || *n > MAX_LENGTH)
			return -1;
		b = *ip++;
		*n += b;
	} while (b == LZ4_EXT_MAX);
	*ipp = ip;
	return 0;
}

/*
 * copy moves n bytes forward from s to d. The ranges may overlap when
 * d - s >= 4: each 4-byte load then reads bytes at least 4 behind the write
 * pointer, all written already, because every load follows the previous
 * store (the may_alias type keeps the compiler from reordering them).
 * Inlined: under TCG a RET is an indirect jump, looked up on every return.
 */
static inline __attribute__((always_inline)) void copy(u8 *d, const u8 *s, u32 n)
{
	while (n >= 8) {
		((u32u *)d)[0] = ((const u32u *)s)[0];
		((u32u *)d)[1] = ((const u32u *)s)[1];
		d += 8;
		s += 8;
		n -= 8;
	}
	if (n >= 4) {
		*(u32u *)d = *(const u32u *)s;
		d += 4;
		s += 4;
		n -= 4;
	}
	while (n--)
		*d++ = *s++;
}

/* copy8 moves 8 bytes with both loads before the stores, so d - s >= 8 is
 * enough even when the ranges overlap; copy16 is two of them (d - s >= 16,
 * or no overlap). */
static inline __attribute__((always_inline)) void copy8(u8 *d, const u8 *s)
{
	u32 a = ((const u32u *)s)[0], b = ((const u32u *)s)[1];

	((u32u *)d)[0] = a;
	((u32u *)d)[1] = b;
}

static inline __attribute__((always_inline)) void copy16(u8 *d, const u8 *s)
{
	copy8(d, s);
	copy8(d + 8, s + 8);
}

/*
 * Fast path. Most sequences of a kernel are short (600,000 of them for 8
 * MB: 3 literals and a 10-byte match on average), and under TCG the time
 * goes per sequence, not per byte: every branch ends a translation block,
 * and each block reloads and spills the guest registers it uses. So while
 * the input and the output have room, a sequence with fewer than 15
 * literals copies 16 bytes blindly, and a match of at most 18 bytes at an
 * offset of 8 or more copies 20; the bytes written past the sequence's end
 * are rewritten by the sequences that follow. Each test folds its
 * conditions into the sign of one OR of differences (all of them far from
 * overflow: offsets are below 64 KiB, buffers below 1 GiB), so a sequence
 * costs two conditional branches. Anything else, and the last bytes of each
 * buffer, take the exact path.
 */
#define FAST_IN		17	/* token + the 16 input bytes the literal copy reads */
#define FAST_OUT	34	/* 14 literals + 20 bytes of match written blindly */

/*
 * fast reports whether the sequence at ip takes the fast path: ip < ilim,
 * op < olim and fewer than 15 literals, as one sign test. It reads the
 * token even when ip == iend (a damaged block), which is safe here: every
 * block is followed by at least the stub's stack inside the packed segment.
 */
static inline __attribute__((always_inline)) int fast(const u8 *ip, const u8 *ilim, const u8 *op, const u8 *olim)
{
	return (int)((ilim - ip - 1) | (olim - op - 1) | (0xef - *ip)) >= 0;
}

/* lz4_decode decodes one block into exactly dlen bytes at dst; 0 or a
 * message. */
static const char *lz4_decode(u8 *dst, u32 dlen, const u8 *src, u32 slen, u32 seg)
{
	const u8 *ip = src, *iend = src + slen;
	u8 *op = dst, *oend = dst + dlen;
	const u8 *ilim = slen > FAST_IN ? iend - FAST_IN : src;
	u8 *olim = dlen > FAST_OUT ? oend - FAST_OUT : dst;

	for (;;) {
		u32 token, n, m, off;

		if (fast(ip, ilim, op, olim)) {
			do {
				const u8 *s;

				/* the literals and the 2-byte offset are
				 * within FAST_IN: not the last sequence */
				token = *ip++;
				n = token >> 4;
				copy16(op, ip);
				op += n;
				ip += n;
				off = ip[0] | (u32)ip[1] << 8;
				ip += 2;
				m = token & LZ4_NIBBLE_MAX;
				if ((int)((LZ4_NIBBLE_MAX - 1 - m) | (off - 8) | ((u32)(op - dst) - off)) < 0) {
					n = m;
					goto match;
				}
				s = op - off;
				copy8(op, s);
				copy8(op + 8, s + 8);
				*(u32u *)(op + 16) = *(const u32u *)(s + 16);
				op += m + LZ4_MIN_MATCH;
			} while (fast(ip, ilim, op, olim));
		}

		if (ip >= iend)
			return failure("truncated block, segment", seg);
		token = *ip++;
		n = token >> 4;
		if (n == LZ4_NIBBLE_MAX && readlen(&ip, iend, &n))
			return failure("bad literal length, segment", seg);
		if (n > (u32)(iend - ip) || n > (u32)(oend - op))
			return failure("literals overrun, segment", seg);
		copy(op, ip, n);
		op += n;
		ip += n;
		if (ip == iend)
			break;

		if (iend - ip < 2)
			return failure("truncated offset, segment", seg);
		off = ip[0] | (u32)ip[1] << 8;
		ip += 2;
		n = token & LZ4_NIBBLE_MAX;
match:
		if (off == 0 || off > (u32)(op - dst))
			return failure("match offset out of range, segment", seg);
		if (n == LZ4_NIBBLE_MAX && readlen(&ip, iend, &n))
			return failure("bad match length, segment", seg);
		n += LZ4_MIN_MATCH;
		if (n > (u32)(oend - op))
			return failure("match overruns, segment", seg);
		if (off < 4) {
			/* a run of period 1..3 (zeroed tables, padding): from
			 * op - off on, the bytes repeat with period off, so
			 * with period 4*off too once 3*off of them are
			 * written; the rest is then copied in words */
			const u8 *s = op - off;
			u32 k = 3 * off;

			if (k > n)
				k = n;
			n -= k;
			while (k--)
				*op++ = *s++;
			off *= 4;
		}
		copy(op, op - off, n);
		op += n;
	}
	if (op != oend)
		return failure("size mismatch, segment", seg);
	return 0;
}

/*
 * unbcj undoes kernel/pack/bcj.go's x86 filter on n bytes at p (physical
 * address addr), making the same decisions on the same bytes: an E8 turns
 * the 4 bytes after it back into a CALL displacement, a REX.W (48, 4C) LEA,
 * MOV or POP (89, 8B, 8D, 8F) with ModRM mod=00 r/m=101 the 4 bytes after
 * the ModRM into a RIP-relative one.
 *
 * Most positions start neither, and that is cheap to see four at a time:
 * none of i..i+3 can start a conversion when the word at i holds no E8 and
 * the word at i+2 no ModRM byte of the RIP form ((b & C7) == 05), both found
 * by the zero-byte test on a transformed word (a hit may be false only
 * above a real one; the byte steps then resolve it). The prefixes 48 and 4C
 * are too common in code to scan for.
 */
static void unbcj(u8 *p, u32 n, u32 addr)
{
	u32 i = 0;

	while (i + 5 <= n) {
		while (i + 6 <= n) {
			u32 e = *(const u32u *)(p + i) ^ 0xe8e8e8e8u;
			u32 m = (*(const u32u *)(p + i + 2) & 0xc7c7c7c7u) ^ 0x05050505u;
			if (((e - 0x01010101u) & ~e & 0x80808080u) | ((m - 0x01010101u) & ~m & 0x80808080u))
				break;
			i += 4;
		}
		if (p[i] == 0xe8) {
			u32u *d = (u32u *)(p + i + 1);
			*d = *d - (addr + i + 5);
			i += 5;
		} else if (i + 7 <= n && (p[i] | 4) == 0x4c && (p[i + 1] | 6) == 0x8f && (p[i + 2] & 0xc7) == 0x05) {
			u32u *d = (u32u *)(p + i + 3);
			*d = *d - (addr + i + 7);
			i += 7;
		} else {
			i++;
		}
	}
}

static void zero(u8 *d, u32 n)
{
	while (n >= 4 && ((uptr)d & 3)) {
		*d++ = 0;
		n--;
	}
	while (n >= 4) {
		*(u32u *)d = 0;
		d += 4;
		n -= 4;
	}
	while (n--)
		*d++ = 0;
}

/* overlaps reports whether [a, a+an) and [b, b+bn) share a byte. */
static int overlaps(u32 a, u32 an, u32 b, u32 bn)
{
	return an && bn && a < b + bn && b < a + an;
}

/*
 * The loader's data must survive the decompression: the original image's
 * segments were in place before the loader wrote hvm_start_info, its
 * command line and its memory map, so it kept them clear of the kernel's
 * span; with the packed image that span is free memory to the loader, and
 * only convention (QEMU, Firecracker and Cloud Hypervisor all use the
 * first MiB) keeps them out of it. Checked, not assumed: a loader that put
 * them there gets a message, not a kernel with a garbled command line.
 */
#define SI_CMDLINE	0x18	/* hvm_start_info.cmdline_paddr (u64) */
#define SI_MEMMAP	0x28	/* memmap_paddr (u64, version >= 1) */
#define SI_MEMMAP_N	0x30	/* memmap_entries (u32) */
#define SI_SIZE_V1	0x38
#define SI_CMDLINE_MAX	4096	/* board.MaxCmdlineLen */
#define MEMMAP_ENTRY	24

static const char *check_start_info(const u8 *si, u32 dst, u32 n)
{
	if (!si)
		return 0;
	if (overlaps((u32)(uptr)si, SI_SIZE_V1, dst, n))
		return failure("hvm_start_info inside the kernel's span at", (u32)(uptr)si);
	if (rd(si, SI_CMDLINE + 4) == 0 && overlaps(rd(si, SI_CMDLINE), SI_CMDLINE_MAX, dst, n))
		return failure("command line inside the kernel's span at", rd(si, SI_CMDLINE));
	if (rd(si, 4) >= 1 && rd(si, SI_MEMMAP + 4) == 0 &&
	    overlaps(rd(si, SI_MEMMAP), rd(si, SI_MEMMAP_N) * MEMMAP_ENTRY, dst, n))
		return failure("memory map inside the kernel's span at", rd(si, SI_MEMMAP));
	return 0;
}

/* unpack is called from entry.S with the header and the loader's EBX. */
const char *unpack(const u8 *hdr, const u8 *si)
{
	u32 nseg, payload, paylen, a, b, i;
	uptr table;

	if (rd(hdr, HDR_MAGIC) != HDR_MAGIC_VALUE)
		return failure("bad header magic", rd(hdr, HDR_MAGIC));
	if (rd(hdr, HDR_VERS) != HDR_VERSION)
		return failure("unknown header version", rd(hdr, HDR_VERS));
	nseg = rd(hdr, HDR_NSEG);
	if (nseg == 0 || nseg > MAX_SEGMENTS)
		return failure("bad segment count", nseg);
	table = (uptr)hdr + HDR_SIZE;
	payload = rd(hdr, HDR_PAYLOAD);
	paylen = rd(hdr, HDR_PAYLEN);
	if (payload != table + nseg * SEG_SIZE || (paylen & 3) || paylen > MAX_LENGTH)
		return failure("bad payload bounds", payload);

	/* the table and the payload are contiguous and summed together */
	payload_sum((const u32u *)table, (nseg * SEG_SIZE + paylen) / 4, &a, &b);
	if (a != rd(hdr, HDR_SUM_A) || b != rd(hdr, HDR_SUM_B))
		return failure("checksum mismatch (damaged image), sum", a);

	for (i = 0; i < nseg; i++) {
		const u8 *s = (const u8 *)(table + i * SEG_SIZE);
		u32 src = rd(s, SEG_SRC), csize = rd(s, SEG_CSIZE);
		u8 *dst = (u8 *)(uptr)rd(s, SEG_DST);
		u32 dsize = rd(s, SEG_DSIZE);
		const char *err;

		if (src < payload || csize > paylen || src - payload > paylen - csize)
			return failure("segment outside the payload, segment", i);
		err = check_start_info(si, rd(s, SEG_DST), dsize + rd(s, SEG_ZERO));
		if (err)
			return err;
		err = lz4_decode(dst, dsize, (const u8 *)(uptr)src, csize, i);
		if (err)
			return err;
		if (rd(s, SEG_FLAGS) & ~SEGF_CALLS)
			return failure("unknown segment flags, segment", i);
		if (rd(s, SEG_FLAGS) & SEGF_CALLS)
			unbcj(dst, dsize, rd(s, SEG_DST));
		zero(dst + dsize, rd(s, SEG_ZERO));
	}
	return 0;
}
