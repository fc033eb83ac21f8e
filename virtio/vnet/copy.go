package vnet

// copyChunk bounds the size of each frame copy. Go's memmove on amd64
// copies more than 2 KiB with REP MOVSB when the source or the destination
// is not 8-byte aligned and AVX is off (the guest does not enable XSAVE),
// and under QEMU's TCG each iteration of a REP string instruction is one
// pass through a translation block: a byte per pass. Copies of at most
// 2 KiB take the SSE loop, 256 bytes per iteration, whatever the
// alignment. A frame behind a 12- or 20-byte virtio-net header is never
// aligned with its source, so frames are copied in pieces of this size.
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
