package vnet

import (
	"encoding/binary"
	"testing"
)

// FuzzRxAssembler feeds the receive reassembly a device-chosen sequence of
// used buffers: each step is a buffer whose bytes (header included) and
// used length come from the input. The first byte picks the configuration
// (mergeable buffers, hash header, GUEST_TSO4, buffer size). Invariants:
// no panic; every frame handed on is within [14, maxFrame] bytes; a frame
// handed over in its buffer lies inside that buffer; frames never outnumber
// buffers.
func FuzzRxAssembler(f *testing.F) {
	hdr := func(flags, gso uint8, start, off, nb uint16) []byte {
		h := make([]byte, HeaderLen)
		h[0], h[1] = flags, gso
		binary.LittleEndian.PutUint16(h[6:], start)
		binary.LittleEndian.PutUint16(h[8:], off)
		binary.LittleEndian.PutUint16(h[10:], nb)
		return h
	}
	step := func(used uint16, b []byte) []byte {
		s := []byte{byte(used), byte(used >> 8), byte(len(b)), byte(len(b) >> 8)}
		return append(s, b...)
	}
	frame := make([]byte, 60)
	f.Add(append([]byte{0x01}, step(72, append(hdr(0, 0, 0, 0, 1), frame...))...))
	f.Add(append([]byte{0x01}, append(step(72, append(hdr(0, 0, 0, 0, 3), frame...)), append(step(50, frame[:50]), step(10, frame[:10])...)...)...))
	f.Add(append([]byte{0x00}, step(72, append(hdr(HdrFNeedsCsum, 0, 34, 16, 1), frame...))...))
	f.Add(append([]byte{0x05}, step(72, append(hdr(0, GSOTCPv4, 0, 0, 9000), frame...))...))
	f.Add(append([]byte{0x03}, step(8, hdr(0, 0, 0, 0, 2))...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		cfg := in[0]
		in = in[1:]
		a := assembler{
			hdrLen: HeaderLen, mrg: cfg&1 != 0, guestTSO: cfg&4 != 0,
			maxFrame:  14 + 4 + 1500,
			maxPlain:  14 + 4 + 1500,
			bufSize:   64 << (cfg >> 4 & 7),
			copyBreak: int(cfg&8) * 32,
		}
		if cfg&2 != 0 {
			a.hdrLen = HeaderHashLen
		}
		if a.guestTSO {
			a.maxFrame = 14 + 4 + 65535
		}
		if !a.mrg {
			a.bufSize = a.hdrLen + a.maxFrame
		}
		var st queueStats
		bufs, frames := 0, 0
		for len(in) >= 4 {
			used := int(binary.LittleEndian.Uint16(in))
			n := int(binary.LittleEndian.Uint16(in[2:]))
			in = in[4:]
			buf := make([]byte, a.bufSize)
			copy(buf, in[:min(n, len(in))])
			in = in[min(n, len(in)):]
			bufs++
			fr, ok, handed := a.push(buf, min(used, len(buf)), &st)
			if handed && !ok {
				t.Fatal("buffer handed over without a frame")
			}
			if !ok {
				continue
			}
			frames++
			lim := a.maxPlain
			if fr.gso {
				lim = a.maxFrame
			}
			if len(fr.b) < 14 || len(fr.b) > lim {
				t.Fatalf("frame of %d bytes (max %d)", len(fr.b), a.maxFrame)
			}
			if handed && (len(fr.b) > len(buf)-a.hdrLen || &fr.b[0] != &buf[a.hdrLen]) {
				t.Fatal("handed frame is not inside its buffer")
			}
			if fr.rss.Valid && a.hdrLen != HeaderHashLen {
				t.Fatal("hash reported without the hash header")
			}
		}
		if frames > bufs {
			t.Fatalf("%d frames from %d buffers", frames, bufs)
		}
		a.abandon(&st)
	})
}
