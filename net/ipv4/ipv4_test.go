package ipv4

import (
	"bytes"
	"errors"
	"math/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	src = netip.MustParseAddr("192.168.1.10")
	dst = netip.MustParseAddr("10.1.2.3")
	t0  = time.Unix(5000, 0)
)

func datagram(n int, id uint16, df bool) []byte {
	b := make([]byte, MinHeaderLen+n)
	for i := range n {
		b[MinHeaderLen+i] = byte(i*7 + int(id))
	}
	Encode(b, Fields{ID: id, DF: df, Protocol: ProtoUDP, Src: src, Dst: dst, TOS: 0x10}, n)
	return b
}

func TestEncodeGopacket(t *testing.T) {
	b := datagram(100, 0x1234, true)
	p := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.DecodeOptions{SkipDecodeRecovery: true})
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok {
		t.Fatalf("no IPv4 layer: %v", p.ErrorLayer())
	}
	if !ip.SrcIP.Equal(src.AsSlice()) || !ip.DstIP.Equal(dst.AsSlice()) || ip.Id != 0x1234 ||
		ip.Flags != layers.IPv4DontFragment || ip.TTL != DefaultTTL || ip.Protocol != layers.IPProtocolUDP ||
		ip.Length != 120 || ip.TOS != 0x10 {
		t.Fatalf("gopacket decoded %+v", ip)
	}
	// gopacket recomputes the checksum when serializing: ours must match.
	buf := gopacket.NewSerializeBuffer()
	ip.Checksum = 0
	if err := ip.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes()[:20], b[:20]) {
		t.Fatalf("header differs from gopacket's:\n%x\n%x", buf.Bytes()[:20], b[:20])
	}
}

func TestParse(t *testing.T) {
	good := datagram(40, 1, false)
	h, err := Parse(append(good, 0, 0, 0, 0)) // link padding is trimmed
	if err != nil || len(h) != len(good) || len(h.Payload()) != 40 || h.Src() != src || h.Dst() != dst {
		t.Fatalf("Parse: %v len %d", err, len(h))
	}
	cases := []struct {
		name string
		mut  func([]byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:19] }, ErrShort},
		{"version", func(b []byte) []byte { b[0] = 0x65; return b }, ErrVersion},
		{"ihl small", func(b []byte) []byte { b[0] = 0x44; return b }, ErrIHL},
		{"ihl big", func(b []byte) []byte { b[0] = 0x4f; return b[:40] }, ErrIHL},
		{"total long", func(b []byte) []byte { Header(b).SetTotalLen(200); Header(b).SetChecksum(); return b }, ErrLength},
		{"checksum", func(b []byte) []byte { b[8]--; return b }, ErrChecksum},
	}
	for _, c := range cases {
		b := c.mut(append([]byte(nil), good...))
		if _, err := Parse(b); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestOptionsSkipped(t *testing.T) {
	// A header with 4 bytes of options (NOP NOP NOP EOL).
	pl := []byte("payload!")
	b := make([]byte, 24+len(pl))
	Encode(b, Fields{Protocol: ProtoUDP, Src: src, Dst: dst}, 0)
	b[0] = 0x46
	copy(b[20:], []byte{1, 1, 1, 0})
	copy(b[24:], pl)
	Header(b).SetTotalLen(len(b))
	Header(b).SetChecksum()
	h, err := Parse(b)
	if err != nil || !bytes.Equal(h.Payload(), pl) || len(h.Options()) != 4 {
		t.Fatalf("%v %q", err, h.Payload())
	}
}

func TestFragmentReassemble(t *testing.T) {
	for _, mtu := range []int{68, 576, 1500} {
		d := datagram(2900, uint16(mtu), false)
		frags, err := Fragment(d, mtu)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frags {
			if len(f) > mtu {
				t.Fatalf("fragment %d > mtu %d", len(f), mtu)
			}
			if _, err := Parse(f); err != nil {
				t.Fatalf("fragment invalid: %v", err)
			}
			p := gopacket.NewPacket(f, layers.LayerTypeIPv4, gopacket.Default)
			if p.ErrorLayer() != nil {
				t.Fatalf("gopacket: %v", p.ErrorLayer())
			}
		}
		rand.New(rand.NewSource(int64(mtu))).Shuffle(len(frags), func(i, j int) { frags[i], frags[j] = frags[j], frags[i] })
		r := NewReassembler()
		var out []byte
		for i, f := range frags {
			h, _ := Parse(f)
			got, ok := r.Add(h, t0)
			if ok != (i == len(frags)-1) {
				t.Fatalf("mtu %d: complete=%v at %d/%d", mtu, ok, i, len(frags))
			}
			out = got
		}
		if _, err := Parse(out); err != nil || !bytes.Equal(out[MinHeaderLen:], d[MinHeaderLen:]) {
			t.Fatalf("mtu %d: reassembled datagram differs (%v)", mtu, err)
		}
		if r.Memory() != 0 || r.Pending() != 0 {
			t.Fatal("state left behind")
		}
	}
}

func TestFragmentDF(t *testing.T) {
	if _, err := Fragment(datagram(2000, 1, true), 1500); !errors.Is(err, ErrFragNeeded) {
		t.Fatal(err)
	}
	if f, err := Fragment(datagram(100, 1, true), 1500); err != nil || len(f) != 1 {
		t.Fatal("small DF datagram not passed through")
	}
}

func addAll(t *testing.T, r *Reassembler, frags [][]byte) (ok bool) {
	for _, f := range frags {
		h, err := Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		_, ok = r.Add(h, t0)
	}
	return ok
}

func TestReassemblyLimits(t *testing.T) {
	frags, _ := Fragment(datagram(3000, 9, false), 576)
	t.Run("timeout", func(t *testing.T) {
		r := NewReassembler()
		var expired int
		r.Expired = func([]byte) { expired++ }
		addAll(t, r, frags[:len(frags)-1])
		d, ok := r.NextDeadline()
		if !ok {
			t.Fatal("no deadline")
		}
		r.Advance(d.Add(-time.Nanosecond))
		if r.Pending() != 1 {
			t.Fatal("expired early")
		}
		r.Advance(d)
		if r.Pending() != 0 || r.Memory() != 0 || r.Stats.Timeouts != 1 || expired != 1 {
			t.Fatalf("pending %d mem %d timeouts %d expired %d", r.Pending(), r.Memory(), r.Stats.Timeouts, expired)
		}
	})
	t.Run("memory", func(t *testing.T) {
		r := NewReassembler()
		r.MaxMemory = 1000
		if addAll(t, r, frags) || r.Stats.MemoryDrops == 0 || r.Memory() > 1000 {
			t.Fatalf("memory limit not enforced: %+v", r.Stats)
		}
	})
	t.Run("fragments", func(t *testing.T) {
		r := NewReassembler()
		r.MaxFrags = 3
		if addAll(t, r, frags) || r.Stats.TooMany == 0 {
			t.Fatalf("fragment limit not enforced: %+v", r.Stats)
		}
	})
	t.Run("datagrams", func(t *testing.T) {
		r := NewReassembler()
		r.MaxDgs = 2
		for id := uint16(0); id < 5; id++ {
			f, _ := Fragment(datagram(1000, id, false), 576)
			addAll(t, r, f[:1])
		}
		if r.Pending() != 2 || r.Stats.TooMany != 3 {
			t.Fatalf("pending %d", r.Pending())
		}
	})
	t.Run("overlap", func(t *testing.T) {
		r := NewReassembler()
		f2, _ := Fragment(datagram(3000, 9, false), 1000)
		addAll(t, r, frags[:1])
		if addAll(t, r, f2) || r.Stats.Overlaps == 0 {
			t.Fatalf("overlap accepted: %+v", r.Stats)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		r := NewReassembler()
		addAll(t, r, frags[:1])
		if !addAll(t, r, frags) {
			t.Fatal("duplicate fragment broke reassembly")
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add(datagram(10, 1, false))
	fr, _ := Fragment(datagram(100, 2, false), 68)
	for _, x := range fr {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		_ = h.Options()
		_ = h.Payload()
		if h.IsFragment() {
			r := NewReassembler()
			r.Add(h, t0)
			r.Add(h, t0)
			r.Advance(t0.Add(time.Hour))
			if r.Memory() != 0 {
				t.Fatal("memory leak")
			}
		}
	})
}
