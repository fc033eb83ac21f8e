package checksum

import (
	"math/rand"
	"net/netip"
	"testing"
)

// naive is the word-at-a-time sum of RFC 1071 §4.1, the reference the fast
// path is checked against.
func naive(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestRFC1071Example(t *testing.T) {
	// RFC 1071 §3 example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got, want := Checksum(b), ^uint16(0xddf2); got != want {
		t.Fatalf("Checksum = %#04x, want %#04x", got, want)
	}
}

func TestMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for n := 0; n < 300; n++ {
		b := make([]byte, n)
		r.Read(b)
		if got, want := Checksum(b), naive(b); got != want {
			t.Fatalf("len %d: Checksum = %#04x, naive = %#04x", n, got, want)
		}
	}
	allOnes := make([]byte, 70000)
	for i := range allOnes {
		allOnes[i] = 0xff
	}
	if got, want := Checksum(allOnes), naive(allOnes); got != want {
		t.Fatalf("all ones: %#04x != %#04x", got, want)
	}
}

func TestVerifyIncludingField(t *testing.T) {
	// A sample IPv4 header; storing the checksum makes the whole sum fold to 0.
	h := []byte{0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	c := Checksum(h)
	h[10], h[11] = byte(c>>8), byte(c)
	if Checksum(h) != 0 {
		t.Fatalf("header with its checksum does not verify")
	}
}

func TestSplitSum(t *testing.T) {
	b := make([]byte, 1001)
	rand.New(rand.NewSource(2)).Read(b)
	whole := Checksum(b)
	split := Fold(Add(Add(0, b[:400]), b[400:]))
	if whole != split {
		t.Fatalf("split sum %#04x != whole %#04x", split, whole)
	}
	ph := PseudoHeader(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 6, 20)
	if want := uint32(0x0a00+0x0001+0x0a00+0x0002) + 6 + 20; ph != want {
		t.Fatalf("PseudoHeader = %#x, want %#x", ph, want)
	}
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if Checksum(b) != naive(b) {
			t.Fatalf("mismatch for %x", b)
		}
	})
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		Checksum(buf)
	}
}
