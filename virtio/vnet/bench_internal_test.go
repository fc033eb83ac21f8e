package vnet

import "testing"

// BenchmarkAssembler is the driver's own per-frame receive cost: header
// checks and hand-over of a one-buffer frame.
func BenchmarkAssembler(b *testing.B) {
	a := assembler{hdrLen: HeaderLen, mrg: true, maxFrame: 1518, maxPlain: 1518, bufSize: 1536}
	buf := make([]byte, 1536)
	Header(buf).SetNumBuffers(1)
	var st queueStats
	b.SetBytes(1514)
	for range b.N {
		if _, ok, _ := a.push(buf, HeaderLen+1514, &st); !ok {
			b.Fatal("dropped")
		}
	}
}

// BenchmarkTxHash is Send's transmit-queue choice for a TCP frame.
func BenchmarkTxHash(b *testing.B) {
	tz := newToeplitz(SymmetricKey())
	f := make([]byte, 54)
	f[12], f[13], f[14], f[23] = 8, 0, 0x45, 6
	var sink int
	for i := range b.N {
		f[35] = byte(i)
		s, d, sp, dp, ok := frameFlow(f)
		if !ok {
			b.Fatal("no flow")
		}
		sink += queueOfHash(tz.hash4(s, d, sp, dp), rssTableLen, 4)
	}
	_ = sink
}
