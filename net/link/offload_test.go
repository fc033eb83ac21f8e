package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"damselfly/net/checksum"
	"damselfly/net/ether"
	"damselfly/net/ipv4"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	tSrc = netip.MustParseAddr("10.1.0.1")
	tDst = netip.MustParseAddr("10.1.0.2")
)

// tcpFrame builds an Ethernet/IPv4/TCP frame as the stack hands it to an
// offloading link: the TCP checksum field holds the pseudo-header sum
// (not complemented) over the whole TCP length. optLen bytes of NOP
// options pad the TCP header.
func tcpFrame(payload []byte, seq uint32, flags uint8, optLen int) []byte {
	thl := 20 + optLen
	f := make([]byte, 14+20+thl+len(payload))
	ether.Encode(f, ether.MAC{2, 0, 0, 0, 0, 2}, ether.MAC{2, 0, 0, 0, 0, 1}, ether.TypeIPv4)
	ipv4.Encode(f[14:], ipv4.Fields{ID: 100, DF: true, Protocol: ipv4.ProtoTCP, Src: tSrc, Dst: tDst}, thl+len(payload))
	th := f[34:]
	binary.BigEndian.PutUint16(th[0:], 40000)
	binary.BigEndian.PutUint16(th[2:], 80)
	binary.BigEndian.PutUint32(th[4:], seq)
	binary.BigEndian.PutUint32(th[8:], 7)
	th[12] = byte(thl/4) << 4
	th[13] = flags
	binary.BigEndian.PutUint16(th[14:], 1000)
	for i := 20; i < thl; i++ {
		th[i] = 1 // NOP
	}
	copy(th[thl:], payload)
	binary.BigEndian.PutUint16(th[16:], ^checksum.Fold(checksum.PseudoHeader(tSrc, tDst, 6, thl+len(payload))))
	return f
}

func gsoRequest(f []byte, mss int) TxOffload {
	thl := int(f[34+12]>>4) * 4
	return TxOffload{Csum: true, CsumStart: 34, CsumOffset: 16, GSOType: GSOTCPv4, GSOSize: uint16(mss), HdrLen: uint16(34 + thl)}
}

// checkSegment decodes a finished frame with gopacket and verifies both
// checksums; it returns the TCP layer.
func checkSegment(t *testing.T, f []byte) *layers.TCP {
	t.Helper()
	pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("gopacket: %v", el.Error())
	}
	ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tl := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if int(ip.Length) != len(f)-14 {
		t.Fatalf("IP length %d for a %d-byte datagram", ip.Length, len(f)-14)
	}
	if checksum.Checksum(ip.Contents) != 0 {
		t.Fatalf("bad IP header checksum")
	}
	seg := f[14+len(ip.Contents):]
	if checksum.Fold(checksum.Add(checksum.PseudoHeader(tSrc, tDst, 6, len(seg)), seg)) != 0 {
		t.Fatalf("bad TCP checksum in %d-byte segment", len(seg))
	}
	return tl
}

func TestFinishOffloadSegments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, mss int
		optLen int
		flags  uint8
	}{
		{"exact", 1448 * 10, 1448, 12, 0x10 | 0x08},
		{"tail", 20000, 1400, 0, 0x10 | 0x08 | 0x01 | 0x80},
		{"odd-mss", 9999, 1001, 12, 0x10},
		{"two", 3000, 1500, 0, 0x10 | 0x08},
		{"64k", 65535 - 20 - 32, 1448, 12, 0x10 | 0x08},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := make([]byte, tc.n)
			for i := range payload {
				payload[i] = byte(i*7 + i>>8)
			}
			f := tcpFrame(payload, 0xfffff000, tc.flags, tc.optLen)
			var segs [][]byte
			if err := FinishOffload(f, gsoRequest(f, tc.mss), func(s []byte) { segs = append(segs, s) }); err != nil {
				t.Fatal(err)
			}
			if want := (tc.n + tc.mss - 1) / tc.mss; len(segs) != want {
				t.Fatalf("%d segments, want %d", len(segs), want)
			}
			var got []byte
			for i, s := range segs {
				tl := checkSegment(t, s)
				if tl.Seq != 0xfffff000+uint32(len(got)) {
					t.Errorf("segment %d: seq %#x", i, tl.Seq)
				}
				if i < len(segs)-1 && len(tl.Payload) != tc.mss {
					t.Errorf("segment %d: %d bytes", i, len(tl.Payload))
				}
				last := i == len(segs)-1
				if tl.PSH != (last && tc.flags&0x08 != 0) || tl.FIN != (last && tc.flags&0x01 != 0) ||
					tl.CWR != (i == 0 && tc.flags&0x80 != 0) || !tl.ACK {
					t.Errorf("segment %d: flags %+v", i, tl)
				}
				if id := binary.BigEndian.Uint16(s[18:]); id != 100+uint16(i) {
					t.Errorf("segment %d: IP ID %d", i, id)
				}
				got = append(got, tl.Payload...)
			}
			if !bytes.Equal(got, payload) {
				t.Fatal("payload changed")
			}
		})
	}
}

// TestFinishOffloadUsesPartialSum: a wrong pseudo-header sum from the
// stack must give wrong checksums (the device does not recompute it).
func TestFinishOffloadUsesPartialSum(t *testing.T) {
	f := tcpFrame(make([]byte, 4000), 1, 0x10, 0)
	f[34+16]++
	var segs [][]byte
	if err := FinishOffload(f, gsoRequest(f, 1000), func(s []byte) { segs = append(segs, s) }); err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		seg := s[34:]
		if checksum.Fold(checksum.Add(checksum.PseudoHeader(tSrc, tDst, 6, len(seg)), seg)) == 0 {
			t.Fatal("a wrong partial sum produced a valid checksum")
		}
	}
	// Without GSO: checksum completed in place.
	g := tcpFrame([]byte("hello, world"), 1, 0x18, 0)
	if err := FinishOffload(g, TxOffload{Csum: true, CsumStart: 34, CsumOffset: 16}, func(s []byte) {
		if &s[0] != &g[0] {
			t.Error("a frame without GSO was copied")
		}
	}); err != nil {
		t.Fatal(err)
	}
	checkSegment(t, g)
}

func TestFinishOffloadRefuses(t *testing.T) {
	good := tcpFrame(make([]byte, 3000), 1, 0x10, 0)
	for _, tc := range []struct {
		name string
		mod  func(f []byte, o *TxOffload) []byte
	}{
		{"csum-start-in-ether", func(f []byte, o *TxOffload) []byte { o.GSOType, o.CsumStart = 0, 4; return f }},
		{"csum-offset-past-end", func(f []byte, o *TxOffload) []byte { o.GSOType, o.CsumOffset = 0, 4000; return f }},
		{"gso-unknown-type", func(f []byte, o *TxOffload) []byte { o.GSOType = 4; return f }},
		{"gso-size-0", func(f []byte, o *TxOffload) []byte { o.GSOSize = 0; return f }},
		{"gso-no-csum", func(f []byte, o *TxOffload) []byte { o.Csum = false; return f }},
		{"gso-hdrlen", func(f []byte, o *TxOffload) []byte { o.HdrLen += 4; return f }},
		{"gso-not-tcp", func(f []byte, o *TxOffload) []byte { f[14+9] = 17; return f }},
		{"gso-not-ipv4", func(f []byte, o *TxOffload) []byte { f[12] = 0x86; return f }},
		{"gso-ip-length", func(f []byte, o *TxOffload) []byte { return f[:len(f)-1] }},
		{"gso-no-payload", func(f []byte, o *TxOffload) []byte {
			g := tcpFrame(nil, 1, 0x10, 0)
			return g
		}},
		{"gso-short", func(f []byte, o *TxOffload) []byte { return f[:40] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := append([]byte(nil), good...)
			o := gsoRequest(f, 1000)
			f = tc.mod(f, &o)
			emitted := 0
			err := FinishOffload(f, o, func([]byte) { emitted++ })
			if !errors.Is(err, ErrOffloadRequest) || emitted != 0 {
				t.Fatalf("err %v, %d frames emitted", err, emitted)
			}
		})
	}
}

func TestPipeOffload(t *testing.T) {
	p := NewPipe(PipeConfig{Offload: Offloads{Csum: true, TSO4: true}, RxChecksumValid: true,
		BtoA: Impairments{Corrupt: 1}})
	var got [][]byte
	var valid []bool
	p.B.SetReceiver(func(f []byte, rss RSS) { got = append(got, f); valid = append(valid, rss.ChecksumValid) })
	f := tcpFrame(make([]byte, 5000), 1, 0x18, 0)
	if err := p.A.SendOffload(f, gsoRequest(f, 1460)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d frames arrived", len(got))
	}
	for i, s := range got {
		checkSegment(t, s)
		if !valid[i] {
			t.Errorf("frame %d not marked valid", i)
		}
	}
	// The other direction corrupts every frame: none may be marked.
	var back []bool
	p.A.SetReceiver(func(f []byte, rss RSS) { back = append(back, rss.ChecksumValid) })
	g := tcpFrame([]byte("x"), 1, 0x18, 0)
	if err := p.B.SendOffload(g, TxOffload{Csum: true, CsumStart: 34, CsumOffset: 16}); err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || back[0] {
		t.Fatalf("corrupted frame marked %v", back)
	}
	// Not offered: refused.
	q := NewPipe(PipeConfig{Offload: Offloads{Csum: true}})
	if err := q.A.SendOffload(f, gsoRequest(f, 1460)); err == nil {
		t.Fatal("TSO accepted by a pipe without it")
	}
	if err := q.A.SendOffload(f, TxOffload{Csum: true, CsumStart: 34, CsumOffset: 16}); err == nil {
		t.Fatal("a frame over the MTU accepted without GSO")
	}
}

// FuzzFinishOffload feeds arbitrary frames and requests to the software
// finisher: it must not panic, must emit nothing when it refuses, and
// every segment it cuts must be a valid IPv4/TCP frame with correct
// checksums when the request's partial sum was right.
func FuzzFinishOffload(f *testing.F) {
	// Small seeds: the engine minimizes every new input, which takes
	// long on kilobyte frames.
	seed := tcpFrame(make([]byte, 300), 5, 0x19, 12)
	o := gsoRequest(seed, 100)
	f.Add(seed, true, uint16(34), uint16(16), uint8(GSOTCPv4), uint16(100), o.HdrLen)
	f.Add(seed[:80], true, uint16(34), uint16(16), uint8(GSONone), uint16(0), uint16(0))
	f.Add(seed, true, uint16(34), uint16(16), uint8(GSOTCPv4), uint16(1), o.HdrLen)
	f.Add([]byte{1, 2, 3}, true, uint16(0), uint16(0), uint8(GSOTCPv4), uint16(1), uint16(0))
	f.Fuzz(func(t *testing.T, frame []byte, csum bool, start, off uint16, gso uint8, size, hdr uint16) {
		if len(frame) > 70000 {
			return
		}
		frame = append([]byte(nil), frame...) // FinishOffload writes the checksum field
		req := TxOffload{Csum: csum, CsumStart: start, CsumOffset: off, GSOType: gso, GSOSize: size, HdrLen: hdr}
		n := 0
		total := 0
		err := FinishOffload(frame, req, func(s []byte) {
			n++
			total += len(s)
			if gso == GSOTCPv4 && (len(s) < int(hdr) || len(s) > int(hdr)+int(size)) {
				t.Fatalf("segment of %d bytes (headers %d, mss %d)", len(s), hdr, size)
			}
		})
		if err != nil && n != 0 {
			t.Fatalf("refused (%v) after emitting %d frames", err, n)
		}
		if err == nil && n == 0 {
			t.Fatal("accepted and emitted nothing")
		}
	})
}
