package tcp

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// FuzzDeliver feeds arbitrary segments to a Stack that has a listener and
// an established connection with every option negotiated. The input is a
// sequence of records: a control byte (bit 0: aim at the connection's
// ports and sequence space; bit 1: fix the checksum; bits 2-7: clock
// advance in ms), a length byte, and that many segment bytes. The Stack
// must not panic, and its invariants must hold afterwards.
func FuzzDeliver(f *testing.F) {
	mk := func(flags Flags, data string) []byte {
		b := make([]byte, 20+len(data))
		h := Header(b)
		h.SetDataOffset(20)
		h.SetFlags(flags)
		h.SetWindow(1000)
		copy(b[20:], data)
		return append([]byte{3, byte(len(b))}, b...)
	}
	f.Add(mk(FlagACK|FlagPSH, "hello"))
	f.Add(append(mk(FlagACK, "x"), mk(FlagFIN|FlagACK, "")...))
	f.Add(mk(FlagRST, ""))
	f.Add(mk(FlagSYN, ""))
	f.Add([]byte{2, 24, 0, 1, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 2, 0xff, 0xff, 0, 0, 0, 0, 2, 4, 5, 0xb4})
	f.Fuzz(func(t *testing.T, in []byte) {
		sc := newScript(t, nil)
		c, iss := sc.established(fullOpts)
		sc.s.cfg.Output = func(src, dst netip.Addr, b []byte) {
			if err := Header(b).Validate(); err != nil {
				t.Fatalf("emitted invalid segment: %v", err)
			}
		}
		c.Write(make([]byte, 5000))
		for len(in) >= 2 {
			ctl, n := in[0], int(in[1])
			in = in[2:]
			if n > len(in) {
				n = len(in)
			}
			b := append([]byte(nil), in[:n]...)
			in = in[n:]
			sc.now = sc.now.Add(time.Duration(ctl>>2) * time.Millisecond)
			if ctl&1 != 0 && len(b) >= 20 {
				h := Header(b)
				h.SetSrcPort(peerEP.Port())
				h.SetDstPort(ourEP.Port())
				h.SetSeq(h.Seq()%4096 + c.rcv.nxt - 2048)
				h.SetAck(h.Ack()%8192 + iss - 1000)
			}
			if ctl&2 != 0 && len(b) >= 20 {
				Header(b).SetChecksum(0)
				binary.BigEndian.PutUint16(b[16:], segChecksum(peerAddr, ourAddr, b))
			}
			sc.s.Deliver(peerAddr, ourAddr, b)
			sc.s.Advance()
			checkInvariants(t, sc.s)
		}
		c.Read(make([]byte, 1<<16))
		c.Write(make([]byte, 100))
		c.Close()
		sc.advance(time.Hour)
		checkInvariants(t, sc.s)
	})
}

// checkInvariants asserts the sequence-space invariants of every
// connection (DragonFly-style KKASSERTs, checked in tests).
func checkInvariants(t *testing.T, s *Stack) {
	t.Helper()
	for k, c := range s.conns {
		if k != c.key() {
			t.Fatalf("conn table key mismatch")
		}
		snd := &c.snd
		if !seqLEQ(snd.una, snd.nxt) || !seqLEQ(snd.nxt, snd.max) {
			t.Fatalf("%v: una %d nxt %d max %d", c.state, snd.una, snd.nxt, snd.max)
		}
		if c.state.synchronized() && c.state != StateTimeWait && !seqLEQ(snd.una, snd.bufSeq) && snd.buf.len() > 0 {
			t.Fatalf("acked data still buffered: una %d bufSeq %d", snd.una, snd.bufSeq)
		}
		if seqLT(c.rcv.advEdge, c.rcv.nxt) {
			t.Fatalf("window edge %d below rcv.nxt %d", c.rcv.advEdge, c.rcv.nxt)
		}
		if c.rcv.buf.len() > c.rcv.buf.limit {
			t.Fatalf("receive buffer overflow")
		}
		checkScoreboard(t, c)
	}
	for i, tm := range s.timers {
		if tm.idx != i {
			t.Fatalf("timer heap index broken")
		}
	}
}

// checkScoreboard asserts the invariants of the transmission records:
// sorted, disjoint, within [SND.UNA, SND.MAX], never both SACKed and
// lost, and lostBytes their lost total.
func checkScoreboard(t testing.TB, c *Conn) {
	t.Helper()
	snd := &c.snd
	lost := 0
	for i, g := range snd.sb.segs {
		if !seqLT(g.start, g.end) || seqLT(g.start, snd.una) || seqGT(g.end, snd.max) ||
			i > 0 && seqLT(g.start, snd.sb.segs[i-1].end) {
			t.Fatalf("%v: record %d [%d,%d) out of order or outside [%d,%d]", c.state, i, g.start, g.end, snd.una, snd.max)
		}
		if g.lost && g.sacked {
			t.Fatalf("record [%d,%d) both SACKed and lost", g.start, g.end)
		}
		if g.lost {
			lost += int(g.end - g.start)
		}
	}
	if lost != snd.sb.lostBytes {
		t.Fatalf("lostBytes %d, records hold %d", snd.sb.lostBytes, lost)
	}
}
