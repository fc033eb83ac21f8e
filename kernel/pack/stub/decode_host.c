/*
 * Host test harness for the stub's decoder (kernel/pack/stub_host_test.go):
 * builds unpack.c for the host and runs its lz4_decode on one block.
 *
 *   decode_host BLOCK DLEN OUT [ADDR]
 *
 * With ADDR, the output is also given unbcj (the CALL filter's inverse) as
 * if it were loaded at ADDR.
 * Exit 0 with the DLEN decoded bytes in OUT, 1 with the decoder's message on
 * stderr, 2 on a usage or I/O error, 3 if the decoder wrote outside its
 * buffer (guard bytes around the output). The block is followed by slack,
 * as in the packed image (the stub's stack follows the payload there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define unpack unpack_unused	/* the 32-bit entry is not for the host */
#include "unpack.c"

#define GUARD 64

int main(int argc, char **argv)
{
	FILE *f;
	long slen;
	unsigned long dlen;
	u8 *src, *buf;
	const char *err;
	int i;

	if (argc != 4 && argc != 5)
		return 2;
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (slen = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		return 2;
	src = malloc(slen + GUARD);
	if (!src || fread(src, 1, slen, f) != (size_t)slen)
		return 2;
	fclose(f);
	memset(src + slen, 0xee, GUARD);
	dlen = strtoul(argv[2], 0, 10);
	buf = malloc(dlen + 2 * GUARD);
	if (!buf)
		return 2;
	memset(buf, 0xa5, dlen + 2 * GUARD);
	err = lz4_decode(buf + GUARD, dlen, src, slen, 7);
	for (i = 0; i < GUARD; i++)
		if (buf[i] != 0xa5 || buf[GUARD + dlen + i] != 0xa5)
			return 3;
	if (err) {
		fputs(err, stderr);
		return 1;
	}
	if (argc == 5)
		unbcj(buf + GUARD, dlen, (u32)strtoul(argv[4], 0, 0));
	f = fopen(argv[3], "wb");
	if (!f || fwrite(buf + GUARD, 1, dlen, f) != dlen || fclose(f))
		return 2;
	return 0;
}
