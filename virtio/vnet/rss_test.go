package vnet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"damselfly/net/stack"
	"damselfly/virtio/vnet/vnetsim"
)

// The verification suite of Microsoft's "RSS hashing functions" page:
// destination, source, and the IPv4/TCP hash (input: source address,
// destination address, source port, destination port).
var msVectors = []struct {
	dst, src string
	tcp      uint32
}{
	{"161.142.100.80:1766", "66.9.149.187:2794", 0x51ccc178},
	{"65.69.140.83:4739", "199.92.111.2:14230", 0xc626b0ea},
	{"12.22.207.184:38024", "24.19.198.95:12898", 0x5c2b394a},
	{"209.142.163.6:2217", "38.27.205.30:48228", 0xafc7327f},
	{"202.188.127.2:1303", "153.39.163.191:44251", 0x10e828a2},
}

var msKey = []byte{
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
}

func TestToeplitzVectors(t *testing.T) {
	tz := newToeplitz(msKey)
	for _, v := range msVectors {
		s, d := netip.MustParseAddrPort(v.src), netip.MustParseAddrPort(v.dst)
		in := make([]byte, 12)
		sa, da := s.Addr().As4(), d.Addr().As4()
		copy(in, sa[:])
		copy(in[4:], da[:])
		binary.BigEndian.PutUint16(in[8:], s.Port())
		binary.BigEndian.PutUint16(in[10:], d.Port())
		if h := tz.hash4(sa, da, s.Port(), d.Port()); h != v.tcp {
			t.Errorf("driver %v→%v: %#x, want %#x", s, d, h, v.tcp)
		}
		if h := vnetsim.Toeplitz(msKey, in); h != v.tcp {
			t.Errorf("device %v→%v: %#x, want %#x", s, d, h, v.tcp)
		}
	}
}

// The driver's transmit-queue hash, the device's hash and the stack's
// partition agree on random flows, under the symmetric key, both ways.
func TestToeplitzAgreesWithStack(t *testing.T) {
	if !bytes.Equal(SymmetricKey(), stack.SymmetricKey) {
		t.Fatal("keys differ")
	}
	tz := newToeplitz(SymmetricKey())
	rng := rand.New(rand.NewPCG(5, 5))
	for range 2000 {
		var sa, da [4]byte
		binary.BigEndian.PutUint32(sa[:], rng.Uint32())
		binary.BigEndian.PutUint32(da[:], rng.Uint32())
		sp, dp := uint16(rng.Uint32()), uint16(rng.Uint32())
		s := netip.AddrPortFrom(netip.AddrFrom4(sa), sp)
		d := netip.AddrPortFrom(netip.AddrFrom4(da), dp)
		h := tz.hash4(sa, da, sp, dp)
		if h != stack.RSSHash(stack.SymmetricKey, s, d) || h != tz.hash4(da, sa, dp, sp) {
			t.Fatalf("%v→%v: %#x", s, d, h)
		}
		for n := 1; n <= 8; n++ {
			if queueOfHash(h, rssTableLen, n) != (stack.Toeplitz{}).Thread(s, d, n) {
				t.Fatalf("%v→%v n=%d: queue %d", s, d, n, queueOfHash(h, rssTableLen, n))
			}
		}
	}
}

func TestRSSConfigLayout(t *testing.T) {
	key := SymmetricKey()
	b := rssConfig(HashTypeIPv4|HashTypeTCPv4, 128, 3, key)
	if len(b) != 4+2+2+256+2+1+40 {
		t.Fatalf("length %d", len(b))
	}
	if binary.LittleEndian.Uint32(b) != 3 || binary.LittleEndian.Uint16(b[4:]) != 127 || binary.LittleEndian.Uint16(b[6:]) != 0 {
		t.Fatal("fixed fields")
	}
	for i := range 128 {
		if binary.LittleEndian.Uint16(b[8+2*i:]) != uint16(i%3) {
			t.Fatalf("entry %d", i)
		}
	}
	if binary.LittleEndian.Uint16(b[264:]) != 3 || b[266] != 40 || !bytes.Equal(b[267:], key) {
		t.Fatal("tail fields")
	}
}
