package pack

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestBCJ(t *testing.T) {
	// calls from three places to one target become the same bytes
	code := make([]byte, 64)
	target := uint32(0x1020000)
	addr := uint32(0x1010000)
	for _, at := range []int{3, 20, 40} {
		code[at] = opCall
		binary.LittleEndian.PutUint32(code[at+1:], target-(addr+uint32(at)+callLength))
	}
	enc := append([]byte(nil), code...)
	bcjEncode(enc, addr)
	for _, at := range []int{3, 20, 40} {
		if got := binary.LittleEndian.Uint32(enc[at+1:]); got != target {
			t.Errorf("call at %d: filtered to %#x, want the target %#x", at, got, target)
		}
	}
	bcjDecode(enc, addr)
	if !bytes.Equal(enc, code) {
		t.Error("round trip differs")
	}

	// LEAQ var(SB), AX and MOVQ var(SB), R9: 48 8D 05, 4C 8B 0D + disp32
	code = make([]byte, 64)
	for _, at := range []int{2, 30} {
		copy(code[at:], []byte{0x48, 0x8d, 0x05})
		if at == 30 {
			copy(code[at:], []byte{0x4c, 0x8b, 0x0d})
		}
		binary.LittleEndian.PutUint32(code[at+3:], target-(addr+uint32(at)+ripLength))
	}
	code[50], code[51], code[52] = 0x48, 0x8d, 0x45 // mod=01: not RIP-relative
	enc = append([]byte(nil), code...)
	bcjEncode(enc, addr)
	for _, at := range []int{2, 30} {
		if got := binary.LittleEndian.Uint32(enc[at+3:]); got != target {
			t.Errorf("RIP-relative at %d: filtered to %#x, want %#x", at, got, target)
		}
	}
	if !bytes.Equal(enc[50:], code[50:]) {
		t.Error("mod=01 operand was converted")
	}
	bcjDecode(enc, addr)
	if !bytes.Equal(enc, code) {
		t.Error("RIP-relative round trip differs")
	}

	// E8-dense and edge cases: E8 inside a converted call, E8 in the last
	// four bytes (not converted), wraparound of the 32-bit sums
	cases := [][]byte{
		nil, {opCall}, {opCall, 1, 2, 3}, {opCall, 1, 2, 3, 4},
		bytes.Repeat([]byte{opCall}, 23),
		{opCall, opCall, opCall, 0xff, 0xff, opCall, 0, 0, 0},
		{0x48, 0x8d, 0x05, opCall, 1, 2, 3, 0x4c, 0x8b, 0x05, 0x48},
		bytes.Repeat([]byte{0x4c, 0x8f, 0x05}, 30),
		random(5000, 7),
	}
	for i, c := range cases {
		for _, a := range []uint32{0, 0x100f000, 0xfffffff0} {
			b := append([]byte(nil), c...)
			bcjEncode(b, a)
			bcjDecode(b, a)
			if !bytes.Equal(b, c) {
				t.Errorf("case %d at %#x: round trip differs", i, a)
			}
		}
	}
}

func FuzzBCJRoundTrip(f *testing.F) {
	f.Add([]byte{opCall, 1, 2, 3, 4, opCall}, uint32(0x1000))
	f.Fuzz(func(t *testing.T, b []byte, addr uint32) {
		c := append([]byte(nil), b...)
		bcjEncode(c, addr)
		bcjDecode(c, addr)
		if !bytes.Equal(b, c) {
			t.Fatal("round trip differs")
		}
	})
}
