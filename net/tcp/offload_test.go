package tcp

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"damselfly/net/link"
)

// softOffload is an OutputOffload that does what a device does with the
// segment (link.FinishOffload behind minimal Ethernet and IPv4 headers)
// and passes each finished segment to out.
func softOffload(t testing.TB, out func(src, dst netip.Addr, seg []byte)) func(src, dst netip.Addr, seg []byte, gso int) {
	return func(src, dst netip.Addr, seg []byte, gso int) {
		const hl = 14 + 20
		f := make([]byte, hl+len(seg))
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		copy(f[14:], ipv4Wrap(src, dst, nil))
		binary.BigEndian.PutUint16(f[16:], uint16(20+len(seg)))
		copy(f[hl:], seg)
		o := link.TxOffload{Csum: true, CsumStart: hl, CsumOffset: 16}
		if gso > 0 {
			o.GSOType, o.GSOSize, o.HdrLen = link.GSOTCPv4, uint16(gso), uint16(hl+Header(seg).DataOffset())
		}
		if err := link.FinishOffload(f, o, func(s []byte) { out(src, dst, s[hl:]) }); err != nil {
			t.Errorf("offload request for a %d-byte segment (gso %d): %v", len(seg), gso, err)
		}
	}
}

// wireLog hashes every segment put on the simulated wire, in order.
type wireLog struct {
	n   int
	sum [32]byte
}

func (w *wireLog) wrap(out func(src, dst netip.Addr, seg []byte)) func(src, dst netip.Addr, seg []byte) {
	return func(src, dst netip.Addr, seg []byte) {
		w.n++
		h := sha256.New()
		h.Write(w.sum[:])
		h.Write(seg)
		h.Sum(w.sum[:0])
		out(src, dst, seg)
	}
}

// TestTSOSameWire runs the same transfer with and without checksum offload
// and TSO over an impaired link (loss, reordering, duplication,
// corruption): the segments on the wire, after the software device cut
// and finished them, must be byte for byte those of the per-MSS path, so
// the TSO sender decides exactly as the plain one (Nagle, windows, SACK
// recovery, retransmissions). Every segment is also decoded by gopacket.
func TestTSOSameWire(t *testing.T) {
	lc := linkConfig{Rate: 125e6, Delay: time.Millisecond, Jitter: 300 * time.Microsecond,
		Loss: 0.005, Dup: 0.002, Corrupt: 0.002, MaxQueue: 4 * time.Millisecond, Check: true}
	n := uint64(4 << 20)
	if raceEnabled {
		n = 1 << 20
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"newreno-nosack", func(c *Config) { c.Congestion, c.NoSACK = "newreno", true }},
		{"no-timestamps-mtu9000", func(c *Config) { c.NoTimestamps, c.MTU = true, 9000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plain, off wireLog
			transfer(t, lc, 11, n, func(c *Config) {
				tc.mod(c)
				c.Output = plain.wrap(c.Output)
			})
			sm := transfer(t, lc, 11, n, func(c *Config) {
				tc.mod(c)
				c.Offload = Offload{Checksum: true, TSOMax: 65515}
				c.OutputOffload = softOffload(t, off.wrap(c.Output))
			})
			if plain.n != off.n || plain.sum != off.sum {
				t.Errorf("wire differs: %d segments without offload, %d with", plain.n, off.n)
			}
			st := sm.a.Stats()
			t.Logf("%d segments; a: %d offloaded, %d GSO frames carrying %d segments, %d retransmits",
				off.n, st.CsumOffloaded, st.GSOFrames, st.GSOSegments, st.Retransmits)
			if st.GSOFrames == 0 || st.GSOSegments <= st.GSOFrames || st.CsumOffloaded < st.GSOFrames {
				t.Errorf("offload counters: %+v", st)
			}
			if st.Retransmits == 0 {
				t.Errorf("the link lost nothing: recovery not exercised")
			}
		})
	}
}

// TestTSOFrameBounds checks what the sender hands the link: every GSO
// segment is a whole number of MSS pieces within TSOMax, and with Nagle a
// short tail never rides in a GSO frame.
func TestTSOFrameBounds(t *testing.T) {
	const tsoMax = 16000
	var frames, big int
	lc := linkConfig{Rate: 125e6, Delay: time.Millisecond}
	transfer(t, lc, 3, 2<<20, func(c *Config) {
		out := c.Output
		c.Offload = Offload{Checksum: true, TSOMax: tsoMax}
		soft := softOffload(t, out)
		c.OutputOffload = func(src, dst netip.Addr, seg []byte, gso int) {
			frames++
			if len(seg) > tsoMax {
				t.Errorf("%d-byte segment over TSOMax %d", len(seg), tsoMax)
			}
			if gso > 0 {
				big++
				pl := len(Header(seg).Payload())
				if pl%gso != 0 && Header(seg).Flags()&(FlagFIN|FlagPSH) == 0 {
					t.Errorf("GSO payload %d not a multiple of %d", pl, gso)
				}
				if pl <= gso {
					t.Errorf("GSO asked for a %d-byte payload with gso %d", pl, gso)
				}
			}
			soft(src, dst, seg, gso)
		}
	})
	if big == 0 {
		t.Fatalf("no GSO frame among %d", frames)
	}
	t.Logf("%d frames, %d GSO", frames, big)
}

// TestDeliverValidated: a segment with a wrong checksum is dropped by
// Deliver and accepted by DeliverValidated (the device vouched for it),
// which counts it.
func TestDeliverValidated(t *testing.T) {
	sm := newSim(t, linkConfig{}, 1, nil)
	l, err := sm.b.Listen(netip.AddrPortFrom(sm.addrB, 80), 4)
	if err != nil {
		t.Fatal(err)
	}
	syn := make([]byte, HeaderMinLen)
	h := Header(syn)
	h.SetSrcPort(1234)
	h.SetDstPort(80)
	h.SetSeq(1000)
	h.SetDataOffset(HeaderMinLen)
	h.SetFlags(FlagSYN)
	h.SetWindow(1000)
	h.SetChecksum(0xdead)
	sm.b.Deliver(sm.addrA, sm.addrB, syn)
	if st := sm.b.Stats(); st.ChecksumErrors != 1 || st.CsumValidatedIn != 0 {
		t.Fatalf("Deliver: %+v", st)
	}
	sm.b.DeliverValidated(sm.addrA, sm.addrB, syn)
	st := sm.b.Stats()
	if st.ChecksumErrors != 1 || st.CsumValidatedIn != 1 || st.ConnsByState["SYN-RECEIVED"] != 1 {
		t.Fatalf("DeliverValidated: %+v", st)
	}
	_ = l
}

// With OutputOffloadFrame every segment arrives behind Headroom free
// bytes of its frame, and the transfer is the same as through
// OutputOffload.
func TestOutputOffloadFrame(t *testing.T) {
	lc := linkConfig{Rate: 125e6, Delay: time.Millisecond, Loss: 0.005, Check: true}
	var plain, framed wireLog
	transfer(t, lc, 12, 1<<20, func(c *Config) {
		c.Offload = Offload{Checksum: true, TSOMax: 65515}
		c.OutputOffload = softOffload(t, plain.wrap(c.Output))
	})
	calls, fallback := 0, 0
	transfer(t, lc, 12, 1<<20, func(c *Config) {
		c.Offload = Offload{Checksum: true, TSOMax: 65515}
		inner := softOffload(t, framed.wrap(c.Output))
		c.OutputOffload = func(src, dst netip.Addr, seg []byte, gso int) {
			fallback++
			inner(src, dst, seg, gso)
		}
		c.Headroom = 34
		c.OutputOffloadFrame = func(src, dst netip.Addr, frame []byte, off, gso int) {
			calls++
			if off != 34 || len(frame) < off+HeaderMinLen {
				t.Fatalf("frame of %d bytes, segment at %d", len(frame), off)
			}
			inner(src, dst, frame[off:], gso)
		}
	})
	if plain.n != framed.n || plain.sum != framed.sum {
		t.Errorf("wire differs: %d segments through OutputOffload, %d through OutputOffloadFrame", plain.n, framed.n)
	}
	if calls == 0 || fallback != 0 {
		t.Errorf("%d framed outputs, %d copied ones", calls, fallback)
	}
}
