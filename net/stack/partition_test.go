package stack

import (
	"encoding/hex"
	"math/rand"
	"net/netip"
	"testing"
)

// The Microsoft RSS verification suite ("Verifying the RSS Hash
// Calculation"; also the Intel 82599 datasheet §7.1.2.8.3): the standard
// key and IPv4 hashes with and without ports.
var msKey, _ = hex.DecodeString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")

var msVectors = []struct {
	dst, src      string
	ipOnly, ipTCP uint32
}{
	{"161.142.100.80:1766", "66.9.149.187:2794", 0x323e8fc2, 0x51ccc178},
	{"65.69.140.83:4739", "199.92.111.2:14230", 0xd718262a, 0xc626b0ea},
	{"12.22.207.184:38024", "24.19.198.95:12898", 0xd2d0a5de, 0x5c2b394a},
	{"209.142.163.6:2217", "38.27.205.30:48228", 0x82989176, 0xafc7327f},
	{"202.188.127.2:1303", "153.39.163.191:44251", 0x5d1809c5, 0x10e828a2},
}

func TestToeplitzMicrosoftVectors(t *testing.T) {
	for _, v := range msVectors {
		src, dst := netip.MustParseAddrPort(v.src), netip.MustParseAddrPort(v.dst)
		if got := RSSHash(msKey, src, dst); got != v.ipTCP {
			t.Errorf("%s -> %s: tcp hash %#08x, want %#08x", v.src, v.dst, got, v.ipTCP)
		}
		s, d := src.Addr().As4(), dst.Addr().As4()
		if got := ToeplitzHash(msKey, append(s[:], d[:]...)); got != v.ipOnly {
			t.Errorf("%s -> %s: ip hash %#08x, want %#08x", v.src, v.dst, got, v.ipOnly)
		}
	}
}

func TestSymmetricKey(t *testing.T) {
	if hex.EncodeToString(SymmetricKey[:4]) != "6d5a6d5a" || len(SymmetricKey) != 40 {
		t.Fatalf("key %x", SymmetricKey)
	}
}

func randFlow(r *rand.Rand) (netip.AddrPort, netip.AddrPort) {
	a := netip.AddrFrom4([4]byte{byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256))})
	b := netip.AddrFrom4([4]byte{byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256))})
	return netip.AddrPortFrom(a, uint16(r.Intn(65536))), netip.AddrPortFrom(b, uint16(r.Intn(65536)))
}

func TestPartitionsSymmetric(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, p := range []Partition{Ports{}, Toeplitz{}} {
		seen := map[int]bool{}
		for i := 0; i < 5000; i++ {
			a, b := randFlow(r)
			n := 1 + i%7 // includes non-powers of two
			x, y := p.Thread(a, b, n), p.Thread(b, a, n)
			if x != y || x < 0 || x >= n {
				t.Fatalf("%s: %v<->%v n=%d: %d vs %d", p.Name(), a, b, n, x, y)
			}
			if n == 3 {
				seen[x] = true
			}
		}
		if len(seen) != 3 {
			t.Errorf("%s: only threads %v used of 3", p.Name(), seen)
		}
		// The symmetric hash itself, not just the thread, is direction-free,
		// and the table-driven form agrees with the bitwise definition.
		a, b := randFlow(r)
		if RSSHash(SymmetricKey, a, b) != RSSHash(SymmetricKey, b, a) {
			t.Fatal("symmetric key hash differs by direction")
		}
		key := append([]byte(nil), SymmetricKey...)
		if RSSHash(key, a, b) != symmetricHash(a, b) {
			t.Fatal("table-driven hash differs from the bitwise one")
		}
	}
}

func TestPortsRule(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:1000")
	b := netip.MustParseAddrPort("10.0.0.2:80")
	if got := (Ports{}).Thread(a, b, 3); got != 1080%3 {
		t.Fatal(got)
	}
	if got := (Toeplitz{}).Thread(a, b, 3); got != int(RSSHash(SymmetricKey, a, b)&127)%3 {
		t.Fatal(got)
	}
	if _, err := PartitionByName("random"); err == nil {
		t.Fatal("bad name accepted")
	}
}

func BenchmarkToeplitz(b *testing.B) {
	a := netip.MustParseAddrPort("10.0.0.1:1000")
	c := netip.MustParseAddrPort("10.0.0.2:80")
	for b.Loop() {
		RSSHash(SymmetricKey, a, c)
	}
}

// TestSymmetricTableMatchesToeplitz checks every entry of the lookup table
// against the bit-serial hash of a tuple with only that byte set.
func TestSymmetricTableMatchesToeplitz(t *testing.T) {
	for i := range symmetricTable {
		for b := range 256 {
			in := make([]byte, 12)
			in[i] = byte(b)
			if got, want := symmetricTable[i][b], ToeplitzHash(SymmetricKey, in); got != want {
				t.Fatalf("symmetricTable[%d][%#x] = %#08x, ToeplitzHash = %#08x", i, b, got, want)
			}
		}
	}
}
