package tcp

// copyChunk bounds the size of each copy the rings make. Go's memmove on
// amd64 copies more than 2 KiB with REP MOVSB when the source or the
// destination is not 8-byte aligned and AVX is off (as in the guest: the
// board does not enable XSAVE), and under QEMU's TCG each iteration of a
// REP string instruction is one pass through a translation block: one byte
// per pass. Copies of at most 2 KiB take the SSE loop instead, 256 bytes
// per iteration, whatever the alignment. Ring offsets are arbitrary, so
// ring copies are cut into pieces of this size. On hardware the pieces
// cost a loop iteration per 2 KiB.
const copyChunk = 2048

// copyBytes is copy(dst, src) in pieces of at most copyChunk bytes.
func copyBytes(dst, src []byte) int {
	n := min(len(dst), len(src))
	for off := 0; off < n; off += copyChunk {
		end := min(off+copyChunk, n)
		copy(dst[off:end], src[off:end])
	}
	return n
}
