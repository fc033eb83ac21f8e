// The x86 CALL filter applied to executable segments before compression
// (the "BCJ" filter of xz and 7-Zip, for E8 only): each CALL rel32 has its
// 32-bit displacement replaced by the absolute target, so the many calls to
// one function become the same five bytes wherever they are, which LZ4 then
// matches. On our kernel's text it saves 7.6% (128 KB). JMP rel32 (E9) and
// Jcc rel32 (0F 8x) were tried and compress worse: their targets are near.
//
// The scan is over bytes, not instructions: an E8 inside another
// instruction or in data is converted too, which is harmless because the
// stub's inverse (stub/unpack.c: unbcj) makes the same decisions on the
// filtered bytes: E8 bytes are never changed, and the four bytes after each
// converted E8 are skipped by both.

package pack

import "encoding/binary"

const (
	opCall     = 0xe8 // CALL rel32 (Intel SDM vol. 2A, CALL)
	callLength = 5
)

// bcjEncode filters b in place; addr is the physical address of b[0].
func bcjEncode(b []byte, addr uint32) {
	for i := 0; i+callLength <= len(b); {
		if b[i] != opCall {
			i++
			continue
		}
		rel := binary.LittleEndian.Uint32(b[i+1:])
		binary.LittleEndian.PutUint32(b[i+1:], rel+addr+uint32(i+callLength))
		i += callLength
	}
}

// bcjDecode undoes bcjEncode.
func bcjDecode(b []byte, addr uint32) {
	for i := 0; i+callLength <= len(b); {
		if b[i] != opCall {
			i++
			continue
		}
		abs := binary.LittleEndian.Uint32(b[i+1:])
		binary.LittleEndian.PutUint32(b[i+1:], abs-addr-uint32(i+callLength))
		i += callLength
	}
}
