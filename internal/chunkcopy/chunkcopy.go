// Package chunkcopy copies byte slices in pieces of at most 2 KiB.
//
// Go's memmove on amd64 copies more than 2 KiB with REP MOVSB when the
// source or the destination is not 8-byte aligned and AVX is off (as in the
// guest: the board does not enable XSAVE), and under QEMU's TCG each
// iteration of a REP string instruction is one pass through a translation
// block: one byte per pass. Copies of at most 2 KiB take memmove's SSE loop
// instead, 256 bytes per iteration, whatever the alignment. The network
// path's copies (ring offsets, frames behind a 12- or 20-byte virtio-net
// header) are rarely aligned, so they go through Copy. On hardware the
// pieces cost one loop iteration per 2 KiB.
package chunkcopy

// Chunk is the largest piece Copy hands to memmove.
const Chunk = 2048

// Copy is copy(dst, src) in pieces of at most Chunk bytes.
func Copy(dst, src []byte) int {
	n := min(len(dst), len(src))
	for off := 0; off < n; off += Chunk {
		end := min(off+Chunk, n)
		copy(dst[off:end], src[off:end])
	}
	return n
}
