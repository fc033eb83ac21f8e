package ether

import (
	"bytes"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func TestEncodeDecode(t *testing.T) {
	dst := MAC{1, 2, 3, 4, 5, 6}
	src := MAC{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	payload := []byte("hello ethernet payload")
	b := Build(dst, src, TypeIPv4, payload)
	if len(b) != MinFrame {
		t.Fatalf("len = %d, want padded to %d", len(b), MinFrame)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Dst() != dst || f.Src() != src || f.Type() != TypeIPv4 {
		t.Fatalf("decoded %v %v %#x", f.Dst(), f.Src(), f.Type())
	}
	if !bytes.HasPrefix(f.Payload(), payload) {
		t.Fatal("payload mismatch")
	}
	// Independent decoder.
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	e, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !ok {
		t.Fatalf("gopacket: no ethernet layer: %v", p.ErrorLayer())
	}
	if !bytes.Equal(e.DstMAC, net.HardwareAddr(dst[:])) || !bytes.Equal(e.SrcMAC, net.HardwareAddr(src[:])) ||
		e.EthernetType != layers.EthernetTypeIPv4 {
		t.Fatalf("gopacket decoded %v %v %v", e.DstMAC, e.SrcMAC, e.EthernetType)
	}
}

func TestShort(t *testing.T) {
	for n := 0; n < HeaderLen; n++ {
		if _, err := Parse(make([]byte, n)); err == nil {
			t.Fatalf("Parse(%d bytes) accepted", n)
		}
	}
}

func TestMulticast(t *testing.T) {
	if !Broadcast.IsMulticast() || (MAC{2}).IsMulticast() || !(MAC{1}).IsMulticast() {
		t.Fatal("group bit")
	}
	if got := (MAC{0xde, 0xad, 0xbe, 0xef, 0, 1}).String(); got != "de:ad:be:ef:00:01" {
		t.Fatal(got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Build(Broadcast, MAC{2}, TypeARP, []byte{1, 2, 3}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Parse(b)
		if err != nil {
			return
		}
		_ = fr.Dst()
		_ = fr.Src()
		_ = fr.Type()
		if len(fr.Payload()) != len(b)-HeaderLen {
			t.Fatal("payload length")
		}
	})
}
