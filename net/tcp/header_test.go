package tcp

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func TestOptionsRoundTrip(t *testing.T) {
	cases := []Options{
		{},
		{HasMSS: true, MSS: 1460},
		{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true, TSVal: 1, TSEcr: 0},
		{HasMSS: true, MSS: 536, SACKPerm: true},
		{HasTS: true, TSVal: 0xdeadbeef, TSEcr: 0xfeedface, NumSACK: 3,
			SACK: [maxSACKBlocks]SACKBlock{{1, 2}, {100, 200}, {0xfffffff0, 0x10}}},
		{NumSACK: 4, SACK: [maxSACKBlocks]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}},
		{HasWScale: true, WScale: 14},
	}
	for i, want := range cases {
		var b [40]byte
		n := EncodeOptions(b[:], &want)
		if n%4 != 0 || n > 40 {
			t.Fatalf("case %d: length %d", i, n)
		}
		var got Options
		if err := ParseOptions(b[:n], &got); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got != want {
			t.Errorf("case %d: got %+v want %+v", i, got, want)
		}
	}
}

func TestParseOptionsMalformed(t *testing.T) {
	for _, b := range [][]byte{
		{OptMSS},               // no length
		{OptMSS, 1},            // length < 2
		{OptMSS, 8, 0, 0},      // runs off the end
		{OptNOP, OptSACK, 255}, // runs off the end
	} {
		var o Options
		if ParseOptions(b, &o) == nil {
			t.Errorf("%x: accepted", b)
		}
	}
	// Wrong lengths for known kinds are ignored, unknown kinds skipped,
	// EOL stops parsing.
	var o Options
	b := []byte{OptMSS, 3, 0, 99, 2, OptWScale, 3, 20, OptEOL, OptMSS, 4, 1, 1}
	if err := ParseOptions(b, &o); err != nil || o.HasMSS || !o.HasWScale || o.WScale != maxWScale {
		t.Errorf("got %+v, %v", o, err)
	}
}

// TestHeaderAgainstGopacket serializes segments with gopacket and reads
// them with Header, and the reverse.
func TestHeaderAgainstGopacket(t *testing.T) {
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	mss := make([]byte, 2)
	binary.BigEndian.PutUint16(mss, 1400)
	ts := make([]byte, 8)
	binary.BigEndian.PutUint32(ts, 7)
	binary.BigEndian.PutUint32(ts[4:], 9)
	tl := &layers.TCP{SrcPort: 1234, DstPort: 80, Seq: 0xfffffff0, Ack: 5, SYN: true, ACK: true,
		ECE: true, Window: 4096, Urgent: 0,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: mss},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: ts},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		}}
	tl.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		tl, gopacket.Payload([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	h := Header(buf.Bytes())
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if h.SrcPort() != 1234 || h.DstPort() != 80 || h.Seq() != 0xfffffff0 || h.Ack() != 5 ||
		h.Flags() != FlagSYN|FlagACK|FlagECE || h.Window() != 4096 || string(h.Payload()) != "hello" {
		t.Fatalf("decode: %v %v %v %v %v %v", h.SrcPort(), h.DstPort(), h.Seq(), h.Ack(), h.Flags(), h.Window())
	}
	var o Options
	if err := ParseOptions(h.Options(), &o); err != nil {
		t.Fatal(err)
	}
	want := Options{HasMSS: true, MSS: 1400, SACKPerm: true, HasTS: true, TSVal: 7, TSEcr: 9, HasWScale: true, WScale: 7}
	if o != want {
		t.Fatalf("options %+v", o)
	}
	// Our encoder, gopacket's decoder.
	seg := make([]byte, 60+3)
	opts := Options{HasMSS: true, MSS: 1460, HasTS: true, TSVal: 1, TSEcr: 2, NumSACK: 2,
		SACK: [maxSACKBlocks]SACKBlock{{10, 20}, {30, 40}}}
	hl := HeaderMinLen + EncodeOptions(seg[HeaderMinLen:], &opts)
	seg = seg[:hl+3]
	copy(seg[hl:], "abc")
	oh := Header(seg)
	oh.SetSrcPort(9)
	oh.SetDstPort(10)
	oh.SetSeq(11)
	oh.SetAck(12)
	oh.SetDataOffset(hl)
	oh.SetFlags(FlagACK | FlagPSH | FlagFIN)
	oh.SetWindow(13)
	checkWithGopacket(t, src, dst, fillChecksum(src, dst, seg))
}

func fillChecksum(src, dst netip.Addr, seg []byte) []byte {
	h := Header(seg)
	h.SetChecksum(0)
	h.SetChecksum(segChecksum(src, dst, seg))
	return seg
}

func TestSeqArithmetic(t *testing.T) {
	cases := []struct {
		a, b uint32
		lt   bool
	}{
		{1, 2, true}, {2, 1, false}, {0xffffffff, 0, true}, {0, 0xffffffff, false},
		{0x7fffffff, 0x80000000, true}, {5, 5, false},
	}
	for _, c := range cases {
		if seqLT(c.a, c.b) != c.lt || seqGEQ(c.a, c.b) == c.lt {
			t.Errorf("seqLT(%#x,%#x) = %v", c.a, c.b, seqLT(c.a, c.b))
		}
	}
	if !inWindow(2, 0xfffffffe, 5) || inWindow(3, 0xfffffffe, 5) {
		t.Error("inWindow across wrap")
	}
	if seqMax(0xfffffff0, 3) != 3 || seqMin(0xfffffff0, 3) != 0xfffffff0 {
		t.Error("seqMax/seqMin across wrap")
	}
}

func TestSipHashVector(t *testing.T) {
	// SipHash-2-4 reference vector (paper, appendix A): key 00..0f,
	// message 00..0e, result a129ca6149be45e5.
	var k [16]byte
	for i := range k {
		k[i] = byte(i)
	}
	msg := make([]byte, 15)
	for i := range msg {
		msg[i] = byte(i)
	}
	if got := sipHash24(&k, msg); got != 0xa129ca6149be45e5 {
		t.Fatalf("siphash = %#x", got)
	}
}

func FuzzParseOptions(f *testing.F) {
	f.Add([]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7})
	f.Add([]byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Options
		if ParseOptions(b, &o) != nil {
			return
		}
		// What parses must re-encode and parse to the same thing.
		var buf [40]byte
		n := EncodeOptions(buf[:], &o)
		var o2 Options
		if err := ParseOptions(buf[:n], &o2); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if o.NumSACK > 0 && o.HasTS && o.NumSACK > 3 || o.HasMSS && o.HasTS && o.HasWScale && o.NumSACK > 2 {
			return // blocks beyond the 40-byte option space are dropped by design
		}
		if o2 != o {
			t.Fatalf("round trip: %+v -> %+v", o, o2)
		}
	})
}
