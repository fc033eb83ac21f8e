package tcp

import (
	"net/netip"
	"testing"
	"time"
)

// Scripted exchanges in the spirit of packetdrill: the test plays the
// remote peer, injecting segments into one Stack and asserting on each
// segment the Stack emits. The clock moves only when the script says so.

var (
	ourAddr  = netip.MustParseAddr("10.0.0.1")
	peerAddr = netip.MustParseAddr("10.0.0.2")
	ourEP    = netip.AddrPortFrom(ourAddr, 80)
	peerEP   = netip.AddrPortFrom(peerAddr, 5000)
)

type seg struct {
	seq, ack uint32
	flags    Flags
	wnd      uint16
	opts     Options
	data     []byte
}

type script struct {
	t   *testing.T
	s   *Stack
	now time.Time
	out []seg
	src netip.AddrPort // peer endpoint used by inject
}

func newScript(t *testing.T, mod func(*Config)) *script {
	sc := &script{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), src: peerEP}
	cfg := Config{
		Now: func() time.Time { return sc.now },
		Output: func(src, dst netip.Addr, b []byte) {
			checkWithGopacket(t, src, dst, b)
			h := Header(b)
			var o Options
			if err := ParseOptions(h.Options(), &o); err != nil {
				t.Fatalf("emitted bad options: %v", err)
			}
			sc.out = append(sc.out, seg{h.Seq(), h.Ack(), h.Flags(), h.Window(), o, append([]byte(nil), h.Payload()...)})
		},
	}
	cfg.ISNSecret[0] = 9
	if mod != nil {
		mod(&cfg)
	}
	sc.s = NewStack(cfg)
	return sc
}

// inject delivers a segment from the peer.
func (sc *script) inject(g seg) {
	sc.t.Helper()
	b := make([]byte, HeaderMaxLen+len(g.data))
	hl := HeaderMinLen + EncodeOptions(b[HeaderMinLen:HeaderMaxLen], &g.opts)
	b = b[:hl+len(g.data)]
	copy(b[hl:], g.data)
	h := Header(b)
	h.SetSrcPort(sc.src.Port())
	h.SetDstPort(ourEP.Port())
	h.SetSeq(g.seq)
	h.SetAck(g.ack)
	h.SetDataOffset(hl)
	h.SetFlags(g.flags)
	h.SetWindow(g.wnd)
	h.SetChecksum(segChecksum(sc.src.Addr(), ourAddr, b))
	sc.s.Deliver(sc.src.Addr(), ourAddr, b)
}

// advance moves the clock by d and runs due timers.
func (sc *script) advance(d time.Duration) {
	sc.now = sc.now.Add(d)
	sc.s.Advance()
}

// expect pops the next emitted segment and checks flags (and seq/ack when
// non-zero in want).
func (sc *script) expect(flags Flags, seq, ack uint32) seg {
	sc.t.Helper()
	if len(sc.out) == 0 {
		sc.t.Fatalf("expected %v seq=%d ack=%d, nothing sent", flags, seq, ack)
	}
	g := sc.out[0]
	sc.out = sc.out[1:]
	if g.flags != flags || seq != 0 && g.seq != seq || ack != 0 && g.ack != ack {
		sc.t.Fatalf("got %v seq=%d ack=%d len=%d, want %v seq=%d ack=%d", g.flags, g.seq, g.ack, len(g.data), flags, seq, ack)
	}
	return g
}

func (sc *script) expectNone() {
	sc.t.Helper()
	if len(sc.out) > 0 {
		g := sc.out[0]
		sc.t.Fatalf("unexpected %v seq=%d ack=%d len=%d", g.flags, g.seq, g.ack, len(g.data))
	}
}

const peerISS = 1000

// established runs a passive handshake with the given peer SYN options
// and returns the accepted Conn and our ISS.
func (sc *script) established(opts Options) (*Conn, uint32) {
	sc.t.Helper()
	l := sc.s.listeners[ourEP]
	if l == nil {
		var err error
		if l, err = sc.s.Listen(ourEP, 8); err != nil {
			sc.t.Fatal(err)
		}
	}
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535, opts: opts})
	sa := sc.expect(FlagSYN|FlagACK, 0, peerISS+1)
	ack := Options{HasTS: opts.HasTS, TSVal: opts.TSVal + 1, TSEcr: sa.opts.TSVal}
	sc.inject(seg{seq: peerISS + 1, ack: sa.seq + 1, flags: FlagACK, wnd: 65535 >> min(opts.WScale, 14), opts: ack})
	c, err := l.Accept()
	if err != nil || c.State() != StateEstablished {
		sc.t.Fatalf("accept: %v", err)
	}
	return c, sa.seq
}

var fullOpts = Options{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 0, SACKPerm: true, HasTS: true, TSVal: 100}

func TestPassiveHandshake(t *testing.T) {
	sc := newScript(t, nil)
	if _, err := sc.s.Listen(ourEP, 8); err != nil {
		t.Fatal(err)
	}
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535, opts: Options{HasMSS: true, MSS: 1000, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true, TSVal: 55}})
	sa := sc.expect(FlagSYN|FlagACK, 0, peerISS+1)
	if !sa.opts.HasMSS || sa.opts.MSS != 1460 || !sa.opts.HasWScale || !sa.opts.SACKPerm || !sa.opts.HasTS || sa.opts.TSEcr != 55 {
		t.Fatalf("SYN-ACK options %+v", sa.opts)
	}
	sc.inject(seg{seq: peerISS + 1, ack: sa.seq + 1, flags: FlagACK, wnd: 100, opts: Options{HasTS: true, TSVal: 56, TSEcr: sa.opts.TSVal}})
	c, err := sc.s.listeners[ourEP].Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.snd.mss != 1000 || c.snd.shift != 7 || c.snd.wnd != 100<<7 || !c.sackOK || !c.tsOK {
		t.Fatalf("negotiated mss=%d shift=%d wnd=%d sack=%v ts=%v", c.snd.mss, c.snd.shift, c.snd.wnd, c.sackOK, c.tsOK)
	}
	// Delayed ACK: one segment waits for the timer, two go at once.
	sc.inject(seg{seq: peerISS + 1, ack: sa.seq + 1, flags: FlagACK, wnd: 100, data: make([]byte, 500), opts: Options{HasTS: true, TSVal: 57}})
	sc.expectNone()
	sc.advance(40 * time.Millisecond)
	sc.expect(FlagACK, sa.seq+1, peerISS+501)
	sc.inject(seg{seq: peerISS + 501, ack: sa.seq + 1, flags: FlagACK, wnd: 100, data: make([]byte, 500), opts: Options{HasTS: true, TSVal: 58}})
	sc.inject(seg{seq: peerISS + 1001, ack: sa.seq + 1, flags: FlagACK, wnd: 100, data: make([]byte, 500), opts: Options{HasTS: true, TSVal: 58}})
	sc.expect(FlagACK, sa.seq+1, peerISS+1501)
	buf := make([]byte, 4000)
	if n, _ := c.Read(buf); n != 1500 {
		t.Fatalf("read %d", n)
	}
}

func TestActiveHandshakeNoOptions(t *testing.T) {
	sc := newScript(t, nil)
	c, err := sc.s.Connect(ourEP, peerEP)
	if err != nil {
		t.Fatal(err)
	}
	syn := sc.expect(FlagSYN, 0, 0)
	if !syn.opts.HasMSS || !syn.opts.HasWScale || !syn.opts.SACKPerm || !syn.opts.HasTS {
		t.Fatalf("SYN options %+v", syn.opts)
	}
	sc.inject(seg{seq: peerISS, ack: syn.seq + 1, flags: FlagSYN | FlagACK, wnd: 8192})
	sc.expect(FlagACK, syn.seq+1, peerISS+1)
	if c.State() != StateEstablished || c.snd.mss != 536 || c.tsOK || c.sackOK || c.wsOK {
		t.Fatalf("state %v mss %d ts %v sack %v ws %v", c.State(), c.snd.mss, c.tsOK, c.sackOK, c.wsOK)
	}
	// Without timestamps the ACK carries no options.
	c.Write([]byte("x"))
	d := sc.expect(FlagACK|FlagPSH, syn.seq+1, peerISS+1)
	if d.opts.HasTS || string(d.data) != "x" {
		t.Fatalf("data segment %+v", d)
	}
}

func TestSynRetransmitBackoff(t *testing.T) {
	sc := newScript(t, nil)
	c, _ := sc.s.Connect(ourEP, peerEP)
	var ev Event
	c.SetNotify(func(e Event) { ev |= e })
	syn := sc.expect(FlagSYN, 0, 0)
	interval := time.Second
	for i := 0; i < 6; i++ {
		sc.advance(interval - time.Millisecond)
		sc.expectNone()
		sc.advance(time.Millisecond)
		sc.expect(FlagSYN, syn.seq, 0)
		interval *= 2
	}
	sc.advance(interval)
	sc.expectNone()
	if c.State() != StateClosed || c.Err() != ErrTimeout || ev&EventError == 0 {
		t.Fatalf("state %v err %v ev %v", c.State(), c.Err(), ev)
	}
}

func TestSimultaneousOpen(t *testing.T) {
	sc := newScript(t, nil)
	c, _ := sc.s.Connect(ourEP, peerEP)
	syn := sc.expect(FlagSYN, 0, 0)
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535, opts: Options{HasMSS: true, MSS: 1400}})
	sc.expect(FlagSYN|FlagACK, syn.seq, peerISS+1)
	if c.State() != StateSynReceived {
		t.Fatalf("state %v", c.State())
	}
	sc.inject(seg{seq: peerISS, ack: syn.seq + 1, flags: FlagSYN | FlagACK, wnd: 65535, opts: Options{HasMSS: true, MSS: 1400}})
	if c.State() != StateEstablished {
		t.Fatalf("state %v", c.State())
	}
}

func TestSimultaneousClose(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{})
	c.Close()
	fin := sc.expect(FlagFIN|FlagACK, iss+1, peerISS+1)
	_ = fin
	if c.State() != StateFinWait1 {
		t.Fatal(c.State())
	}
	// The peer's FIN crosses ours: it does not acknowledge our FIN.
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagFIN | FlagACK, wnd: 65535})
	sc.expect(FlagACK, iss+2, peerISS+2)
	if c.State() != StateClosing {
		t.Fatal(c.State())
	}
	sc.inject(seg{seq: peerISS + 2, ack: iss + 2, flags: FlagACK, wnd: 65535})
	if c.State() != StateTimeWait {
		t.Fatal(c.State())
	}
	sc.advance(59 * time.Second)
	if c.State() != StateTimeWait {
		t.Fatal(c.State())
	}
	sc.advance(time.Second)
	if c.State() != StateClosed || len(sc.s.conns) != 0 {
		t.Fatal(c.State())
	}
}

func TestPassiveClose(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{})
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagFIN | FlagACK, wnd: 65535})
	sc.expect(FlagACK, iss+1, peerISS+2)
	if _, err := c.Read(make([]byte, 1)); err == nil || err.Error() != "EOF" {
		t.Fatalf("read after FIN: %v", err)
	}
	c.Close()
	sc.expect(FlagFIN|FlagACK, iss+1, peerISS+2)
	if c.State() != StateLastAck {
		t.Fatal(c.State())
	}
	sc.inject(seg{seq: peerISS + 2, ack: iss + 2, flags: FlagACK, wnd: 65535})
	if c.State() != StateClosed {
		t.Fatal(c.State())
	}
}

func TestRSTValidation(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{})
	// In window but not at RCV.NXT: challenge ACK, connection survives.
	sc.inject(seg{seq: peerISS + 100, flags: FlagRST})
	sc.expect(FlagACK, iss+1, peerISS+1)
	// Out of window: silently dropped.
	sc.inject(seg{seq: peerISS + 1 + 1<<20, flags: FlagRST})
	sc.expectNone()
	// SYN on an established connection: challenge ACK (RFC 5961 §4).
	sc.inject(seg{seq: peerISS + 7, flags: FlagSYN, wnd: 100})
	sc.expect(FlagACK, iss+1, peerISS+1)
	// ACK for data never sent: challenge ACK and drop.
	sc.inject(seg{seq: peerISS + 1, ack: iss + 5000, flags: FlagACK, wnd: 100})
	sc.expect(FlagACK, iss+1, peerISS+1)
	if c.State() != StateEstablished {
		t.Fatal(c.State())
	}
	st := sc.s.Stats()
	if st.ChallengeACKs != 3 || st.Drops["rst-invalid"] != 1 || st.Drops["out-of-window"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Exactly at RCV.NXT: reset.
	sc.inject(seg{seq: peerISS + 1, flags: FlagRST})
	if c.State() != StateClosed || c.Err() != ErrConnReset {
		t.Fatalf("state %v err %v", c.State(), c.Err())
	}
	if _, err := c.Read(make([]byte, 1)); err != ErrConnReset {
		t.Fatalf("read: %v", err)
	}
}

func TestChallengeACKRateLimit(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.ChallengeACKLimit = 2 })
	_, iss := sc.established(Options{})
	for i := 0; i < 5; i++ {
		sc.inject(seg{seq: peerISS + 100 + uint32(i), flags: FlagRST})
	}
	sc.expect(FlagACK, iss+1, 0)
	sc.expect(FlagACK, iss+1, 0)
	sc.expectNone()
	if st := sc.s.Stats(); st.ChallengeACKsLimited != 3 {
		t.Fatalf("limited %d", st.ChallengeACKsLimited)
	}
	sc.advance(time.Second)
	sc.inject(seg{seq: peerISS + 100, flags: FlagRST})
	sc.expect(FlagACK, iss+1, 0)
}

func TestPAWS(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(fullOpts) // TS.Recent = 101 after the ACK
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK | FlagPSH, wnd: 65535, data: []byte("new"), opts: Options{HasTS: true, TSVal: 200}})
	sc.advance(40 * time.Millisecond)
	sc.expect(FlagACK, iss+1, peerISS+4)
	// An old duplicate: in window but with a timestamp older than
	// TS.Recent (200): dropped, and answered with an ACK.
	sc.inject(seg{seq: peerISS + 4, ack: iss + 1, flags: FlagACK | FlagPSH, wnd: 65535, data: []byte("old"), opts: Options{HasTS: true, TSVal: 150}})
	a := sc.expect(FlagACK, iss+1, peerISS+4)
	if a.opts.TSEcr != 200 {
		t.Fatalf("TSecr %d", a.opts.TSEcr)
	}
	if c.Buffered() != 3 || sc.s.Stats().Drops["paws"] != 1 {
		t.Fatalf("buffered %d drops %v", c.Buffered(), sc.s.Stats().Drops)
	}
}

func TestRTOBackoff(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.DataRetries = 3 })
	c, iss := sc.established(Options{HasMSS: true, MSS: 1460})
	c.Write([]byte("hello"))
	sc.expect(FlagACK|FlagPSH, iss+1, 0)
	interval := c.snd.rto // from the handshake's RTT sample
	for i := 0; i < 3; i++ {
		sc.advance(interval - time.Millisecond)
		sc.expectNone()
		sc.advance(time.Millisecond)
		r := sc.expect(FlagACK|FlagPSH, iss+1, 0)
		if string(r.data) != "hello" {
			t.Fatalf("retransmitted %q", r.data)
		}
		interval *= 2
	}
	sc.advance(interval)
	if c.State() != StateClosed || c.Err() != ErrTimeout {
		t.Fatalf("state %v err %v", c.State(), c.Err())
	}
	sc.expect(FlagRST|FlagACK, 0, 0)
	if st := sc.s.Stats(); st.Timeouts != 3 || st.Retransmits != 3 {
		t.Fatalf("timeouts %d retrans %d", st.Timeouts, st.Retransmits)
	}
}

func TestRTTSampleSetsRTO(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1460})
	// The handshake gave the first sample (0 on this fake clock).
	srtt, rttvar := c.snd.srtt, c.snd.rttvar
	c.Write([]byte("a"))
	sc.expect(FlagACK|FlagPSH, iss+1, 0)
	sc.advance(150 * time.Millisecond) // below the 200ms RTO
	sc.inject(seg{seq: peerISS + 1, ack: iss + 2, flags: FlagACK, wnd: 65535})
	// RFC 6298 §2.3.
	r := 150 * time.Millisecond
	rttvar = (3*rttvar + (r - srtt)) / 4
	srtt = (7*srtt + r) / 8
	if c.snd.srtt != srtt || c.snd.rttvar != rttvar || c.snd.rto != max(srtt+4*rttvar, sc.s.cfg.MinRTO) {
		t.Fatalf("srtt %v rttvar %v rto %v", c.snd.srtt, c.snd.rttvar, c.snd.rto)
	}
}

func TestZeroWindowProbe(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1460})
	// The peer closes its window.
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK, wnd: 0})
	c.Write([]byte("abcdef"))
	sc.expectNone()
	interval := sc.s.cfg.InitialRTO
	for i := 0; i < 3; i++ {
		sc.advance(interval)
		p := sc.expect(FlagACK, iss+1, 0)
		if string(p.data) != "a" {
			t.Fatalf("probe %q", p.data)
		}
		sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK, wnd: 0})
		interval *= 2
	}
	if sc.s.Stats().ZeroWindowProbes != 3 {
		t.Fatal(sc.s.Stats().ZeroWindowProbes)
	}
	// The window opens: everything goes.
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK, wnd: 1000})
	d := sc.expect(FlagACK|FlagPSH, iss+1, 0)
	if string(d.data) != "abcdef" {
		t.Fatalf("data %q", d.data)
	}
	// A probe the peer accepted is acknowledged normally.
	sc.inject(seg{seq: peerISS + 1, ack: iss + 7, flags: FlagACK, wnd: 1000})
	if c.snd.una != iss+7 {
		t.Fatal(c.snd.una)
	}
}

func TestReceiverZeroWindow(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.RecvBufSize = 4000 })
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000})
	for i := uint32(0); i < 4; i++ {
		sc.inject(seg{seq: peerISS + 1 + i*1000, ack: iss + 1, flags: FlagACK, wnd: 65535, data: make([]byte, 1000)})
	}
	sc.expect(FlagACK, iss+1, peerISS+2001)
	a := sc.expect(FlagACK, iss+1, peerISS+4001)
	if a.wnd != 0 {
		t.Fatalf("window %d, want 0", a.wnd)
	}
	// Beyond the window: dropped with an ACK.
	sc.inject(seg{seq: peerISS + 4001, ack: iss + 1, flags: FlagACK, wnd: 65535, data: []byte("x")})
	sc.expect(FlagACK, iss+1, peerISS+4001)
	// Reading opens the window and sends an update.
	c.Read(make([]byte, 4000))
	u := sc.expect(FlagACK, iss+1, peerISS+4001)
	if u.wnd != 4000 {
		t.Fatalf("update window %d", u.wnd)
	}
}

// TestSACKRecovery loses the first of ten segments; the peer SACKs the
// rest and the sender retransmits the hole once, without waiting for the
// RTO.
func TestSACKRecovery(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000, SACKPerm: true})
	c.SetNoDelay(true)
	c.Write(make([]byte, 10000))
	for i := 0; i < 10; i++ {
		sc.expect(FlagACK|FlagPSH*Flags(b2i(i == 9)), iss+1+uint32(i)*1000, 0)
	}
	// The SACKs come back a round trip later. (RACK orders transmissions
	// by time, then sequence number: a retransmission in the very instant
	// of the originals would count as sent before those above it.)
	sc.advance(5 * time.Millisecond)
	base := iss + 1
	for i := uint32(1); i <= 3; i++ {
		o := Options{NumSACK: 1, SACK: [maxSACKBlocks]SACKBlock{{base + 1000, base + 1000 + i*1000}}}
		sc.inject(seg{seq: peerISS + 1, ack: base, flags: FlagACK, wnd: 65535, opts: o})
	}
	// The third SACK marks the first segment lost: retransmit it.
	r := sc.expect(FlagACK, base, 0)
	if len(r.data) != 1000 {
		t.Fatalf("retransmission of %d bytes", len(r.data))
	}
	if !c.snd.inRecovery || sc.s.Stats().FastRecoveries != 1 {
		t.Fatal("not in recovery")
	}
	// More SACKs do not retransmit it again.
	o := Options{NumSACK: 1, SACK: [maxSACKBlocks]SACKBlock{{base + 1000, base + 5000}}}
	sc.inject(seg{seq: peerISS + 1, ack: base, flags: FlagACK, wnd: 65535, opts: o})
	for _, g := range sc.out {
		if g.seq == base {
			t.Fatal("hole retransmitted twice")
		}
	}
	sc.out = nil
	sc.inject(seg{seq: peerISS + 1, ack: base + 10000, flags: FlagACK, wnd: 65535})
	if c.snd.inRecovery || c.snd.una != base+10000 {
		t.Fatal("recovery did not end")
	}
}

// TestNewRenoFastRetransmit: without SACK, three duplicate ACKs trigger
// a retransmission, and a partial ACK another (RFC 6582).
func TestNewRenoFastRetransmit(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.Congestion = "newreno" })
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000})
	c.SetNoDelay(true)
	c.Write(make([]byte, 6000))
	sc.out = nil
	base := iss + 1
	// Limited transmit (RFC 3042) lets new data go on the first two
	// duplicates; there is none left, so nothing is sent.
	for i := 0; i < 3; i++ {
		sc.inject(seg{seq: peerISS + 1, ack: base, flags: FlagACK, wnd: 65535})
	}
	sc.expect(FlagACK, base, 0)
	// Partial ACK: segments 1 and 2 arrived, 3 was lost too.
	sc.inject(seg{seq: peerISS + 1, ack: base + 2000, flags: FlagACK, wnd: 65535})
	sc.expect(FlagACK, base+2000, 0)
	sc.inject(seg{seq: peerISS + 1, ack: base + 6000, flags: FlagACK, wnd: 65535})
	if c.snd.inRecovery {
		t.Fatal("still in recovery")
	}
}

func TestLimitedTransmit(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.Congestion = "newreno" })
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000})
	c.SetNoDelay(true)
	c.Write(make([]byte, 12000)) // IW 10 goes, 2000 bytes wait
	for i := 0; i < 10; i++ {
		sc.expect(FlagACK, 0, 0)
	}
	sc.expectNone()
	base := iss + 1
	sc.inject(seg{seq: peerISS + 1, ack: base, flags: FlagACK, wnd: 65535})
	sc.expect(FlagACK, base+10000, 0)
	sc.inject(seg{seq: peerISS + 1, ack: base, flags: FlagACK, wnd: 65535})
	sc.expect(FlagACK|FlagPSH, base+11000, 0)
}

func TestNagle(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000})
	c.Write([]byte("a"))
	sc.expect(FlagACK|FlagPSH, iss+1, 0)
	c.Write([]byte("b"))
	c.Write([]byte("c"))
	sc.expectNone() // a small segment is in flight
	sc.inject(seg{seq: peerISS + 1, ack: iss + 2, flags: FlagACK, wnd: 65535})
	d := sc.expect(FlagACK|FlagPSH, iss+2, 0)
	if string(d.data) != "bc" {
		t.Fatalf("coalesced %q", d.data)
	}
	c.SetNoDelay(true)
	c.Write([]byte("d"))
	sc.expect(FlagACK|FlagPSH, iss+4, 0)
}

func TestTimeWaitReuse(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{})
	c.Close()
	sc.expect(FlagFIN|FlagACK, iss+1, 0)
	sc.inject(seg{seq: peerISS + 1, ack: iss + 2, flags: FlagFIN | FlagACK, wnd: 65535})
	sc.expect(FlagACK, iss+2, peerISS+2)
	if c.State() != StateTimeWait {
		t.Fatal(c.State())
	}
	// An old SYN (not above RCV.NXT) is not a new connection: it is
	// treated by TIME-WAIT rules (challenge ACK).
	sc.inject(seg{seq: peerISS - 10, flags: FlagSYN, wnd: 65535})
	sc.expect(FlagACK, iss+2, peerISS+2)
	// A new SYN above the old sequence space reopens the tuple.
	sc.advance(time.Second)
	sc.inject(seg{seq: peerISS + 100000, flags: FlagSYN, wnd: 65535})
	sa := sc.expect(FlagSYN|FlagACK, 0, peerISS+100001)
	if seqLEQ(sa.seq, iss+2) {
		t.Fatalf("new ISS %d not above old %d", sa.seq, iss)
	}
	if sc.s.Stats().TimeWaitRecycled != 1 {
		t.Fatal("not recycled")
	}
}

func TestResetForClosedPort(t *testing.T) {
	sc := newScript(t, nil)
	sc.inject(seg{seq: 77, flags: FlagSYN, wnd: 100})
	sc.expect(FlagRST|FlagACK, 0, 78)
	sc.inject(seg{seq: 77, ack: 999, flags: FlagACK, wnd: 100})
	sc.expect(FlagRST, 999, 0)
	sc.inject(seg{seq: 77, flags: FlagRST})
	sc.expectNone()
}

func TestSynCookies(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.SynBacklog = 2 })
	l, _ := sc.s.Listen(ourEP, 8)
	var syns []seg
	for i := 0; i < 3; i++ {
		sc.src = netip.AddrPortFrom(peerAddr, uint16(6000+i))
		sc.inject(seg{seq: 5000, flags: FlagSYN, wnd: 65535, opts: Options{HasMSS: true, MSS: 1400, HasTS: true, TSVal: 10, HasWScale: true, WScale: 3, SACKPerm: true}})
		syns = append(syns, sc.expect(FlagSYN|FlagACK, 0, 5001))
	}
	if st := sc.s.Stats(); st.SynCookiesSent != 1 || len(sc.s.conns) != 2 {
		t.Fatalf("cookies %d conns %d", st.SynCookiesSent, len(sc.s.conns))
	}
	ck := syns[2]
	// A forged ACK (wrong cookie) is refused with a RST.
	sc.inject(seg{seq: 5001, ack: ck.seq + 2, flags: FlagACK, wnd: 100, opts: Options{HasTS: true, TSVal: 11, TSEcr: ck.opts.TSVal}})
	sc.expect(FlagRST, ck.seq+2, 0)
	// The real ACK completes the handshake from the cookie alone.
	sc.inject(seg{seq: 5001, ack: ck.seq + 1, flags: FlagACK, wnd: 100, data: []byte("hi"), opts: Options{HasTS: true, TSVal: 11, TSEcr: ck.opts.TSVal}})
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().Port() != 6002 || c.snd.mss != 1360 || c.snd.shift != 3 || !c.sackOK || !c.tsOK || c.Buffered() != 2 {
		t.Fatalf("cookie conn mss %d shift %d sack %v ts %v buffered %d", c.snd.mss, c.snd.shift, c.sackOK, c.tsOK, c.Buffered())
	}
	st := sc.s.Stats()
	if st.SynCookiesValid != 1 || st.SynCookiesInvalid != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The cookie connection's timestamps continue above the cookie's.
	c.Write([]byte("x"))
	for _, g := range sc.out {
		if g.opts.HasTS && seqLT(g.opts.TSVal, ck.opts.TSVal) {
			t.Fatalf("TSval went back: %d < %d", g.opts.TSVal, ck.opts.TSVal)
		}
	}
	// A cookie expires after two ticks.
	sc.out = nil
	sc.src = netip.AddrPortFrom(peerAddr, 7000)
	for i := 0; i < 2; i++ {
		sc.inject(seg{seq: 5000, flags: FlagSYN, wnd: 65535, opts: Options{HasMSS: true, MSS: 1400}})
	}
	old := sc.out[len(sc.out)-1]
	sc.advance(3 * cookieTick)
	sc.inject(seg{seq: 5001, ack: old.seq + 1, flags: FlagACK, wnd: 100})
	last := sc.out[len(sc.out)-1]
	if last.flags != FlagRST {
		t.Fatalf("expired cookie accepted: %v", last.flags)
	}
}

func TestKeepalive(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{})
	c.SetKeepAlive(true, 10*time.Second, time.Second, 3)
	sc.advance(10 * time.Second)
	sc.expect(FlagACK, iss, peerISS+1) // SND.UNA-1
	// Answered: the idle timer starts over.
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK, wnd: 100})
	sc.advance(time.Second)
	sc.expectNone()
	sc.advance(9 * time.Second)
	sc.expect(FlagACK, iss, 0)
	sc.advance(time.Second)
	sc.expect(FlagACK, iss, 0)
	sc.advance(time.Second)
	sc.expect(FlagACK, iss, 0)
	sc.advance(time.Second)
	sc.expect(FlagRST|FlagACK, 0, 0)
	if c.Err() != ErrTimeout {
		t.Fatal(c.Err())
	}
}

func TestPMTU(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1460})
	c.SetNoDelay(true)
	c.Write(make([]byte, 2920))
	a := sc.expect(FlagACK, iss+1, 0)
	if len(a.data) != 1460 {
		t.Fatal(len(a.data))
	}
	sc.expect(FlagACK|FlagPSH, 0, 0)
	var hdr [8]byte
	Header(hdr[:]).SetSrcPort(ourEP.Port())
	Header(hdr[:]).SetDstPort(peerEP.Port())
	// A quoted sequence number outside the window is ignored (RFC 5927).
	Header(hdr[:]).SetSeq(iss + 100000)
	sc.s.DeliverICMP(ICMPFragNeeded, 1000, ourAddr, peerAddr, hdr[:])
	sc.expectNone()
	Header(hdr[:]).SetSeq(iss + 1)
	sc.s.DeliverICMP(ICMPFragNeeded, 1000, ourAddr, peerAddr, hdr[:])
	r := sc.expect(FlagACK, iss+1, 0)
	if len(r.data) != 960 {
		t.Fatalf("resent %d bytes", len(r.data))
	}
}

func TestUnreadDataCloseResets(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{})
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK | FlagPSH, wnd: 100, data: []byte("unread")})
	c.Close()
	sc.advance(0)
	for _, g := range sc.out {
		if g.flags&FlagRST != 0 {
			return
		}
	}
	t.Fatal("no RST")
}

func TestListenerCloseAndBacklog(t *testing.T) {
	sc := newScript(t, nil)
	l, _ := sc.s.Listen(ourEP, 1)
	if _, err := sc.s.Listen(ourEP, 1); err == nil {
		t.Fatal("double listen")
	}
	sc.src = netip.AddrPortFrom(peerAddr, 6000)
	sc.inject(seg{seq: 5000, flags: FlagSYN, wnd: 65535})
	sa := sc.expect(FlagSYN|FlagACK, 0, 5001)
	sc.inject(seg{seq: 5001, ack: sa.seq + 1, flags: FlagACK, wnd: 65535})
	// The accept queue is full: further SYNs are dropped.
	sc.src = netip.AddrPortFrom(peerAddr, 6001)
	sc.inject(seg{seq: 5000, flags: FlagSYN, wnd: 65535})
	sc.expectNone()
	if l.Pending() != 1 || sc.s.Stats().Drops["listen-overflow"] != 1 {
		t.Fatalf("pending %d drops %v", l.Pending(), sc.s.Stats().Drops)
	}
	l.Close()
	if _, err := l.Accept(); err != ErrClosed {
		t.Fatal(err)
	}
}

// TestDSACKGeneration: a segment that arrives twice is reported in a
// D-SACK block (RFC 2883 §4) in the ACK that answers it.
func TestDSACKGeneration(t *testing.T) {
	sc := newScript(t, nil)
	_, iss := sc.established(Options{HasMSS: true, MSS: 1000, SACKPerm: true})
	d := seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK, wnd: 65535, data: make([]byte, 500)}
	sc.inject(d)
	sc.inject(seg{seq: peerISS + 501, ack: iss + 1, flags: FlagACK, wnd: 65535, data: make([]byte, 500)})
	sc.expect(FlagACK, iss+1, peerISS+1001)
	sc.inject(d) // the duplicate
	a := sc.expect(FlagACK, iss+1, peerISS+1001)
	if a.opts.NumSACK != 1 || a.opts.SACK[0] != (SACKBlock{peerISS + 1, peerISS + 501}) {
		t.Fatalf("D-SACK %+v", a.opts)
	}
	// Reported once only.
	sc.inject(seg{seq: peerISS + 1001, ack: iss + 1, flags: FlagACK, wnd: 65535, data: make([]byte, 500)})
	sc.advance(time.Second)
	a = sc.expect(FlagACK, iss+1, peerISS+1501)
	if a.opts.NumSACK != 0 {
		t.Fatalf("stale D-SACK %+v", a.opts)
	}
}

// TestSpuriousRecoveryUndo: a fast retransmission that the peer reports
// as a duplicate (D-SACK) undoes the window reduction and widens RACK's
// reordering window (RFC 8985 §6.2 step 4).
func TestSpuriousRecoveryUndo(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.Congestion = "newreno" })
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000, SACKPerm: true})
	c.SetNoDelay(true)
	c.Write(make([]byte, 10000))
	sc.out = nil
	base := iss + 1
	before := c.snd.cc.cwnd()
	for i := uint32(1); i <= 3; i++ {
		o := Options{NumSACK: 1, SACK: [maxSACKBlocks]SACKBlock{{base + 1000, base + 1000 + i*1000}}}
		sc.inject(seg{seq: peerISS + 1, ack: base, flags: FlagACK, wnd: 65535, opts: o})
	}
	sc.expect(FlagACK, base, 0)
	if c.snd.cc.cwnd() >= before {
		t.Fatal("no reduction")
	}
	// The original was only delayed: the cumulative ACK covers it and
	// the retransmission comes back as a D-SACK.
	o := Options{NumSACK: 1, SACK: [maxSACKBlocks]SACKBlock{{base, base + 1000}}}
	sc.inject(seg{seq: peerISS + 1, ack: base + 4000, flags: FlagACK, wnd: 65535, opts: o})
	st := sc.s.Stats()
	if st.DSACKsReceived != 1 || st.SpuriousRecoveries != 1 || c.snd.cc.cwnd() < before || !c.snd.rack.reorderingSeen || c.snd.rack.reoWndMult != 2 {
		t.Fatalf("dsack %d undo %d cwnd %d (was %d) reordering seen %v reo_wnd_mult %d", st.DSACKsReceived, st.SpuriousRecoveries, c.snd.cc.cwnd(), before, c.snd.rack.reorderingSeen, c.snd.rack.reoWndMult)
	}
}

// TestTailLossProbe: the last segment of a flight is lost; a probe
// retransmits it after the PTO, long before the RTO.
func TestTailLossProbe(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000, SACKPerm: true})
	c.SetNoDelay(true)
	// Give the connection an RTT estimate of 50ms.
	c.Write(make([]byte, 100))
	sc.expect(FlagACK|FlagPSH, iss+1, 0)
	sc.advance(50 * time.Millisecond)
	sc.inject(seg{seq: peerISS + 1, ack: iss + 101, flags: FlagACK, wnd: 65535})
	base := iss + 101
	c.Write(make([]byte, 3000))
	for i := 0; i < 3; i++ {
		sc.expect(FlagACK|FlagPSH*Flags(b2i(i == 2)), base+uint32(i)*1000, 0)
	}
	sc.advance(10 * time.Millisecond)
	sc.inject(seg{seq: peerISS + 1, ack: base + 1000, flags: FlagACK, wnd: 65535})
	// Two segments in flight: PTO = 2*SRTT.
	pto := 2 * c.snd.srtt
	if pto >= c.snd.rto {
		t.Fatalf("pto %v not below rto %v", pto, c.snd.rto)
	}
	sc.advance(pto - time.Millisecond)
	sc.expectNone()
	sc.advance(time.Millisecond)
	p := sc.expect(FlagACK|FlagPSH, base+2000, 0)
	if len(p.data) != 1000 || sc.s.Stats().TailLossProbes != 1 || sc.s.Stats().Timeouts != 0 {
		t.Fatalf("probe %d bytes, stats %+v", len(p.data), sc.s.Stats())
	}
	sc.inject(seg{seq: peerISS + 1, ack: base + 3000, flags: FlagACK, wnd: 65535})
	if c.snd.una != base+3000 || c.snd.rtoTimer.armed() {
		t.Fatal("not recovered")
	}
}

func TestConnectRefused(t *testing.T) {
	sc := newScript(t, nil)
	c, _ := sc.s.Connect(ourEP, peerEP)
	syn := sc.expect(FlagSYN, 0, 0)
	// A RST whose ACK does not cover our SYN is ignored (RFC 9293 §3.10.7.3).
	sc.inject(seg{seq: 0, ack: syn.seq + 5, flags: FlagRST | FlagACK})
	if c.State() != StateSynSent {
		t.Fatal(c.State())
	}
	sc.inject(seg{seq: 0, ack: syn.seq + 1, flags: FlagRST | FlagACK})
	if c.State() != StateClosed || c.Err() != ErrConnRefused {
		t.Fatalf("state %v err %v", c.State(), c.Err())
	}
}

func TestSynSentBadAck(t *testing.T) {
	sc := newScript(t, nil)
	c, _ := sc.s.Connect(ourEP, peerEP)
	syn := sc.expect(FlagSYN, 0, 0)
	// A SYN-ACK acknowledging something else (an old connection's) draws
	// a RST and leaves us waiting.
	sc.inject(seg{seq: peerISS, ack: syn.seq + 1000, flags: FlagSYN | FlagACK, wnd: 100})
	sc.expect(FlagRST, syn.seq+1000, 0)
	if c.State() != StateSynSent {
		t.Fatal(c.State())
	}
}

// TestSynAckLost: the client's retransmitted SYN makes the server resend
// its SYN-ACK; the server also retransmits on its own timer.
func TestSynAckLost(t *testing.T) {
	sc := newScript(t, nil)
	sc.s.Listen(ourEP, 8)
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535})
	sa := sc.expect(FlagSYN|FlagACK, 0, peerISS+1)
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535})
	sc.expect(FlagSYN|FlagACK, sa.seq, peerISS+1)
	sc.advance(time.Second)
	sc.expect(FlagSYN|FlagACK, sa.seq, peerISS+1)
	sc.advance(2 * time.Second)
	sc.expect(FlagSYN|FlagACK, sa.seq, peerISS+1)
	sc.inject(seg{seq: peerISS + 1, ack: sa.seq + 1, flags: FlagACK, wnd: 65535})
	if _, err := sc.s.listeners[ourEP].Accept(); err != nil {
		t.Fatal(err)
	}
	// A half-open connection that never completes is dropped silently.
	sc.src = netip.AddrPortFrom(peerAddr, 6001)
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535})
	sc.expect(FlagSYN|FlagACK, 0, peerISS+1)
	for i := 0; i < 600; i++ {
		sc.advance(time.Second)
	}
	if len(sc.s.conns) != 1 || len(sc.out) != 6 {
		t.Fatalf("%d conns, %d retransmissions", len(sc.s.conns), len(sc.out))
	}
}

// TestHalfClose: after CloseWrite the peer can still send to us.
func TestHalfClose(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{})
	c.CloseWrite()
	sc.expect(FlagFIN|FlagACK, iss+1, peerISS+1)
	sc.inject(seg{seq: peerISS + 1, ack: iss + 2, flags: FlagACK | FlagPSH, wnd: 65535, data: []byte("more")})
	if c.State() != StateFinWait2 || c.Buffered() != 4 {
		t.Fatalf("state %v buffered %d", c.State(), c.Buffered())
	}
	if _, err := c.Write([]byte("x")); err != ErrClosed {
		t.Fatalf("write after CloseWrite: %v", err)
	}
	sc.inject(seg{seq: peerISS + 5, ack: iss + 2, flags: FlagACK | FlagFIN, wnd: 65535})
	sc.expect(FlagACK, iss+2, peerISS+6)
	if c.State() != StateTimeWait {
		t.Fatal(c.State())
	}
	b := make([]byte, 10)
	if n, _ := c.Read(b); string(b[:n]) != "more" {
		t.Fatalf("read %q", b[:n])
	}
}

// TestAnswerKeepalive: a peer's keepalive (SEG.SEQ = RCV.NXT-1, no data)
// is answered with an ACK; a reordered old bare ACK is not.
func TestAnswerKeepalive(t *testing.T) {
	sc := newScript(t, nil)
	_, iss := sc.established(Options{})
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK | FlagPSH, wnd: 65535, data: make([]byte, 100)})
	sc.advance(time.Second)
	sc.expect(FlagACK, iss+1, peerISS+101)
	sc.inject(seg{seq: peerISS + 100, ack: iss + 1, flags: FlagACK, wnd: 65535})
	sc.expect(FlagACK, iss+1, peerISS+101)
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK, wnd: 65535})
	sc.expectNone()
}

// TestWindowClosesWithDataInFlight: the peer ACKs part of the data and
// closes its window; the lost rest is probed for on the RTO, and flows
// once the window reopens.
func TestWindowClosesWithDataInFlight(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000})
	c.SetNoDelay(true)
	c.Write(make([]byte, 3000))
	sc.out = nil
	base := iss + 1
	sc.inject(seg{seq: peerISS + 1, ack: base + 1000, flags: FlagACK, wnd: 0})
	sc.advance(c.snd.rto)
	p := sc.expect(FlagACK, base+1000, 0)
	if len(p.data) != 1 {
		t.Fatalf("probe of %d bytes", len(p.data))
	}
	sc.expectNone()
	sc.inject(seg{seq: peerISS + 1, ack: base + 1001, flags: FlagACK, wnd: 10000})
	sc.expect(FlagACK, base+1001, 0)
	sc.expectNone() // cwnd is one segment after the timeout
	sc.inject(seg{seq: peerISS + 1, ack: base + 2001, flags: FlagACK, wnd: 10000})
	sc.expect(FlagACK|FlagPSH, base+2001, 0)
}

// TestSmallWindowOverride: a peer window smaller than a segment and much
// smaller than its largest is not filled at once (sender SWS avoidance),
// but the persist timer sends into it rather than waiting forever.
func TestSmallWindowOverride(t *testing.T) {
	sc := newScript(t, nil)
	c, iss := sc.established(Options{HasMSS: true, MSS: 1000})
	sc.inject(seg{seq: peerISS + 1, ack: iss + 1, flags: FlagACK, wnd: 300})
	c.Write(make([]byte, 2000))
	sc.expectNone()
	sc.advance(c.snd.rto)
	d := sc.expect(FlagACK, iss+1, 0)
	if len(d.data) != 300 {
		t.Fatalf("sent %d bytes into a 300-byte window", len(d.data))
	}
}

func TestBadAddressesDropped(t *testing.T) {
	sc := newScript(t, nil)
	b := make([]byte, 20)
	Header(b).SetDataOffset(20)
	Header(b).SetFlags(FlagSYN)
	for _, src := range []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("224.0.0.1"), netip.IPv4Unspecified()} {
		sc.s.Deliver(src, ourAddr, b)
	}
	sc.s.Deliver(peerAddr, netip.MustParseAddr("255.255.255.255"), b)
	sc.expectNone()
	if d := sc.s.Stats().Drops["bad-address"]; d != 4 {
		t.Fatalf("bad-address drops %d", d)
	}
	if _, err := sc.s.Listen(netip.MustParseAddrPort("[::1]:80"), 1); err == nil {
		t.Fatal("IPv6 listen accepted")
	}
}

// TestSynFlood: SYNs beyond the backlog cost no state; each gets a
// cookie, and a real client can still connect through one.
func TestSynFlood(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.SynBacklog = 16 })
	l, _ := sc.s.Listen(ourEP, 8)
	for i := 0; i < 5000; i++ {
		sc.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(1024+i))
		sc.inject(seg{seq: uint32(i * 7919), flags: FlagSYN, wnd: 65535})
	}
	if len(sc.s.conns) != 16 || sc.s.Stats().SynCookiesSent != 5000-16 || len(sc.out) != 5000 {
		t.Fatalf("conns %d cookies %d out %d", len(sc.s.conns), sc.s.Stats().SynCookiesSent, len(sc.out))
	}
	sc.out = nil
	sc.src = peerEP
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535})
	sa := sc.expect(FlagSYN|FlagACK, 0, peerISS+1)
	sc.inject(seg{seq: peerISS + 1, ack: sa.seq + 1, flags: FlagACK, wnd: 65535})
	if c, err := l.Accept(); err != nil || c.RemoteAddr() != peerEP {
		t.Fatalf("accept: %v", err)
	}
}

// TestOutOfOrderMemoryBound: overlapping out-of-order segments cannot
// make the receiver hold more than its buffer size.
func TestOutOfOrderMemoryBound(t *testing.T) {
	sc := newScript(t, func(c *Config) { c.RecvBufSize = 64 << 10 })
	c, iss := sc.established(Options{HasMSS: true, MSS: 1460})
	for i := uint32(0); i < 2000; i++ {
		sc.inject(seg{seq: peerISS + 2 + i, ack: iss + 1, flags: FlagACK, wnd: 65535, data: make([]byte, 1400)})
	}
	if c.rcv.oooBytes > c.rcv.size {
		t.Fatalf("out-of-order queue holds %d bytes, buffer %d", c.rcv.oooBytes, c.rcv.size)
	}
}

func TestConnectionsAndStats(t *testing.T) {
	sc := newScript(t, nil)
	c, _ := sc.established(Options{})
	c.Write([]byte("queued"))
	infos := sc.s.Connections()
	byState := map[string]ConnInfo{}
	for _, ci := range infos {
		byState[ci.State] = ci
	}
	if len(infos) != 2 || byState["LISTEN"].Local != ourEP || byState["ESTABLISHED"].Remote != peerEP ||
		byState["ESTABLISHED"].SendQueue != 6 || byState["ESTABLISHED"].Cwnd == 0 {
		t.Fatalf("connections %+v", infos)
	}
	st := sc.s.Stats()
	if st.ConnsByState["ESTABLISHED"] != 1 || st.ConnsByState["LISTEN"] != 1 || st.PassiveOpen != 1 || st.SegmentsIn != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A corrupted segment is counted, not processed.
	b := make([]byte, 20)
	Header(b).SetDataOffset(20)
	Header(b).SetChecksum(1)
	sc.s.Deliver(peerAddr, ourAddr, b)
	if st := sc.s.Stats(); st.ChecksumErrors != 1 || st.Drops["checksum"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDSACKAboveGap: a duplicate of out-of-order data is reported as a
// D-SACK block followed by the block that contains it (RFC 2883 §4.2).
func TestDSACKAboveGap(t *testing.T) {
	sc := newScript(t, nil)
	_, iss := sc.established(Options{HasMSS: true, MSS: 1000, SACKPerm: true})
	d := seg{seq: peerISS + 501, ack: iss + 1, flags: FlagACK, wnd: 65535, data: make([]byte, 500)}
	sc.inject(d)
	a := sc.expect(FlagACK, iss+1, peerISS+1)
	if a.opts.NumSACK != 1 || a.opts.SACK[0] != (SACKBlock{peerISS + 501, peerISS + 1001}) {
		t.Fatalf("SACK %+v", a.opts)
	}
	sc.inject(d)
	a = sc.expect(FlagACK, iss+1, peerISS+1)
	if a.opts.NumSACK != 2 || a.opts.SACK[0] != (SACKBlock{peerISS + 501, peerISS + 1001}) || a.opts.SACK[1] != a.opts.SACK[0] {
		t.Fatalf("D-SACK %+v", a.opts)
	}
}

// TestNoACKOfBareACKAboveHole: a bare ACK from the peer whose sequence
// number is above a hole in what we received (the peer's SND.NXT, its
// data still in flight) draws no ACK; data there does. Two ends that
// each wait on a hole used to ACK each other's ACKs until the holes
// filled.
func TestNoACKOfBareACKAboveHole(t *testing.T) {
	sc := newScript(t, nil)
	_, iss := sc.established(Options{HasMSS: true, MSS: 1000, SACKPerm: true})
	sc.inject(seg{seq: peerISS + 1001, ack: iss + 1, flags: FlagACK, wnd: 65535, data: make([]byte, 1000)})
	sc.expect(FlagACK, iss+1, peerISS+1)
	sc.inject(seg{seq: peerISS + 2001, ack: iss + 1, flags: FlagACK, wnd: 65535})
	sc.expectNone()
}
