package udp

import (
	"errors"
	"net/netip"
	"testing"

	"damselfly/net/ipv4"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	src = netip.MustParseAddrPort("10.0.0.1:5353")
	dst = netip.MustParseAddrPort("10.0.0.2:53")
)

func TestEncodeGopacket(t *testing.T) {
	for _, pl := range []string{"", "x", "hello, udp world"} {
		d := Build(src, dst, []byte(pl))
		ip := make([]byte, ipv4.MinHeaderLen+len(d))
		ipv4.Encode(ip, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: src.Addr(), Dst: dst.Addr()}, len(d))
		copy(ip[ipv4.MinHeaderLen:], d)
		p := gopacket.NewPacket(ip, layers.LayerTypeIPv4, gopacket.Default)
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatalf("gopacket: %v", p.ErrorLayer())
		}
		if u.SrcPort != 5353 || u.DstPort != 53 || int(u.Length) != len(d) || string(u.Payload) != pl {
			t.Fatalf("%+v", u)
		}
		// Recompute with gopacket and compare checksums.
		want := u.Checksum
		ipl := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		u.SetNetworkLayerForChecksum(ipl)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, u, gopacket.Payload(pl)); err != nil {
			t.Fatal(err)
		}
		if got := Header(buf.Bytes()).Checksum(); got != want && !(got == 0 && want == 0xffff) {
			t.Fatalf("checksum %#x, gopacket %#x", want, got)
		}
		h, err := Parse(d, src.Addr(), dst.Addr())
		if err != nil || string(h.Payload()) != pl {
			t.Fatal(err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	d := Build(src, dst, []byte("data"))
	if _, err := Parse(d[:7], src.Addr(), dst.Addr()); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
	bad := append([]byte(nil), d...)
	bad[5] = 200
	if _, err := Parse(bad, src.Addr(), dst.Addr()); !errors.Is(err, ErrLength) {
		t.Fatal(err)
	}
	bad = append([]byte(nil), d...)
	bad[9] ^= 0x40
	if _, err := Parse(bad, src.Addr(), dst.Addr()); !errors.Is(err, ErrChecksum) {
		t.Fatal(err)
	}
	if _, err := Parse(d, src.Addr(), netip.MustParseAddr("10.0.0.3")); !errors.Is(err, ErrChecksum) {
		t.Fatal("pseudo-header not covered")
	}
	bad[6], bad[7] = 0, 0 // no checksum: accepted
	if _, err := Parse(bad, src.Addr(), dst.Addr()); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Build(src, dst, []byte("seed")))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b, src.Addr(), dst.Addr())
		if err == nil {
			_ = h.Payload()
		}
	})
}
