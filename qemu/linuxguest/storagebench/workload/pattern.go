// Package workload holds the storage benchmarks that run both in a
// Damselfly guest (selftest=blkbench, selftest=fsbench) and in the Debian
// comparison guest (qemu/linuxguest/storagebench): the same operations, the
// same sizes for the same disk, the same seed, and the same output lines,
//
//	blkbench: <name> MB/s=<x> iops=<y> bytes=<n> ms=<t>
//	fsbench: <name> MB/s=<x> iops=<y> bytes=<n> ms=<t>
//
// so that the two guests differ only in the system under test. Devices and
// filesystems are reached through small interfaces; the clock is injected.
package workload

import "encoding/binary"

// Block is the unit every written block is stamped in: each 4 KiB block of
// a benchmark region starts with a header naming its own offset, so data
// read back (in the guest, or from the image after the VM exits) can be
// checked without replaying the order of the writes.
const Block = 4 << 10

// Header layout (little-endian), at the start of each Block:
//
//	[0:7]   magic "dfbench"
//	[7]     tag: which workload wrote the block
//	[8:16]  byte offset of the block in its device or file
const (
	headerLen = 16
	magic     = "dfbench"
)

// Tags of the workloads that write blocks.
const (
	TagSeq  byte = 'S' // sequential raw write
	TagRand byte = 'R' // random raw write
	TagBuf  byte = 'B' // sequential write through the page cache
	TagFile byte = 'F' // file write
)

// Stamp writes headers into every whole Block of b, which starts at byte
// offset off (a multiple of Block).
func Stamp(b []byte, off int64, tag byte) {
	for i := 0; i+Block <= len(b); i += Block {
		h := b[i : i+headerLen]
		copy(h, magic)
		h[7] = tag
		binary.LittleEndian.PutUint64(h[8:], uint64(off+int64(i)))
	}
}

// Check reads the header of the Block at the start of b, which was read
// from offset off. ok is false if the block carries no header or a header
// for another offset.
func Check(b []byte, off int64) (tag byte, ok bool) {
	if len(b) < headerLen || string(b[:7]) != magic {
		return 0, false
	}
	if int64(binary.LittleEndian.Uint64(b[8:16])) != off {
		return b[7], false
	}
	return b[7], true
}

// Fill fills b with bytes from a xorshift generator seeded by seed, so
// that written data is not all zeros (which a host or device could store
// as holes) and is the same in both guests.
func Fill(b []byte, seed uint64) {
	x := seed | 1
	for i := 0; i+8 <= len(b); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
}
