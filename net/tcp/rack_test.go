package tcp

import (
	"testing"
	"time"
)

// Tests of RACK (rack.go, RFC 8985 §6): the state updates and the loss
// rule on hand-built scoreboards, then scripted and simulated connections.

// establishedRTT is established with rtt between our SYN-ACK and the
// peer's ACK, so that SRTT and RACK.min_RTT start at rtt.
func (sc *script) establishedRTT(opts Options, rtt time.Duration) (*Conn, uint32) {
	sc.t.Helper()
	l, err := sc.s.Listen(ourEP, 8)
	if err != nil {
		sc.t.Fatal(err)
	}
	sc.inject(seg{seq: peerISS, flags: FlagSYN, wnd: 65535, opts: opts})
	sa := sc.expect(FlagSYN|FlagACK, 0, peerISS+1)
	sc.advance(rtt)
	ack := Options{HasTS: opts.HasTS, TSVal: opts.TSVal + 1, TSEcr: sa.opts.TSVal}
	sc.inject(seg{seq: peerISS + 1, ack: sa.seq + 1, flags: FlagACK, wnd: 65535, opts: ack})
	c, err := l.Accept()
	if err != nil {
		sc.t.Fatal(err)
	}
	return c, sa.seq
}

var sackOpts = Options{HasMSS: true, MSS: 1000, SACKPerm: true}

const ms = time.Millisecond

func TestRACKSentAfter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t1   time.Duration
		seq1 uint32
		t2   time.Duration
		seq2 uint32
		want bool
		desc string
	}{
		{1 * ms, 100, 0, 200, true, "later"},
		{0, 200, 1 * ms, 100, false, "earlier"},
		{0, 200, 0, 100, true, "same instant, higher"},
		{0, 100, 0, 200, false, "same instant, lower"},
		{0, 100, 0, 100, false, "itself"},
		{0, 5, 0, 0xfffffff0, true, "same instant, higher across the wrap"},
	} {
		if got := rackSentAfter(t0.Add(tc.t1), tc.seq1, t0.Add(tc.t2), tc.seq2); got != tc.want {
			t.Errorf("%s: got %v", tc.desc, got)
		}
	}
}

// rackSeg describes a transmission relative to a base sequence number
// and instant.
type rackSeg struct {
	start, end            uint32
	at                    time.Duration
	retrans, sacked, lost bool
}

// rackSetup gives c (established by establishedRTT) the transmissions
// segs above its SND.UNA, sent from t0, with their SACKed ranges on the
// scoreboard.
func rackSetup(c *Conn, t0 time.Time, segs []rackSeg) uint32 {
	snd := &c.snd
	base := snd.una
	snd.sb = scoreboard{}
	for _, g := range segs {
		tg := txSeg{start: base + g.start, end: base + g.end, xmit: t0.Add(g.at), retrans: g.retrans, sacked: g.sacked, lost: g.lost}
		snd.sb.segs = append(snd.sb.segs, tg)
		if g.sacked {
			snd.sb.blocks = append(snd.sb.blocks, SACKBlock{tg.start, tg.end})
		}
		if g.lost {
			snd.sb.lostBytes += int(g.end - g.start)
		}
		snd.max = seqMax(snd.max, tg.end)
	}
	snd.nxt = snd.max
	// Merge adjacent blocks, as scoreboard.add keeps them.
	var bl []SACKBlock
	for _, b := range snd.sb.blocks {
		if n := len(bl); n > 0 && bl[n-1].End == b.Start {
			bl[n-1].End = b.End
			continue
		}
		bl = append(bl, b)
	}
	snd.sb.blocks = bl
	return base
}

// TestRACKDetectLoss checks §6.2 step 5 on hand-built scoreboards: which
// transmissions are marked lost and when the reordering timer is due.
func TestRACKDetectLoss(t *testing.T) {
	for _, tc := range []struct {
		name   string
		segs   []rackSeg
		rack   rackSeg // the delivered segment RACK tracks (end, at)
		rtt    time.Duration
		minRTT time.Duration
		srtt   time.Duration
		seen   bool
		mult   int
		inRec  bool
		now    time.Duration
		lost   []bool        // per seg, after detection
		next   time.Duration // -1: no timer
	}{
		{
			name: "three SACKed: no reordering window, lost at once",
			segs: []rackSeg{{0, 1000, 0, false, false, false}, {1000, 2000, 0, false, true, false}, {2000, 3000, 0, false, true, false},
				{3000, 4000, 0, false, true, false}, {4000, 5000, 0, false, false, false}},
			rack: rackSeg{end: 4000}, rtt: 10 * ms, minRTT: 10 * ms, srtt: 10 * ms, mult: 1, now: 10 * ms,
			lost: []bool{true, false, false, false, false}, next: -1,
		},
		{
			name: "one SACKed: wait a quarter of min_RTT",
			segs: []rackSeg{{0, 1000, 0, false, false, false}, {1000, 2000, 0, false, true, false}},
			rack: rackSeg{end: 2000}, rtt: 10 * ms, minRTT: 8 * ms, srtt: 10 * ms, mult: 1, now: 10 * ms,
			lost: []bool{false, false}, next: 12 * ms,
		},
		{
			name: "one SACKed, the window has passed",
			segs: []rackSeg{{0, 1000, 0, false, false, false}, {1000, 2000, 0, false, true, false}},
			rack: rackSeg{end: 2000}, rtt: 10 * ms, minRTT: 8 * ms, srtt: 10 * ms, mult: 1, now: 12 * ms,
			lost: []bool{true, false}, next: -1,
		},
		{
			name: "reordering seen: the window stays in recovery and grows with reo_wnd_mult",
			segs: []rackSeg{{0, 1000, 0, false, false, false}, {1000, 2000, 0, false, true, false}, {2000, 3000, 0, false, true, false},
				{3000, 4000, 0, false, true, false}},
			rack: rackSeg{end: 4000}, rtt: 10 * ms, minRTT: 8 * ms, srtt: 10 * ms, seen: true, mult: 2, inRec: true, now: 10 * ms,
			lost: []bool{false, false, false, false}, next: 14 * ms,
		},
		{
			name: "the window never exceeds SRTT",
			segs: []rackSeg{{0, 1000, 0, false, false, false}, {1000, 2000, 0, false, true, false}},
			rack: rackSeg{end: 2000}, rtt: 10 * ms, minRTT: 8 * ms, srtt: 10 * ms, seen: true, mult: 10, now: 10 * ms,
			lost: []bool{false, false}, next: 20 * ms,
		},
		{
			name: "a retransmission sent after RACK.segment is not judged",
			segs: []rackSeg{{0, 1000, 15 * ms, true, false, false}, {1000, 2000, 0, false, true, false}, {2000, 3000, 0, false, true, false},
				{3000, 4000, 0, false, true, false}, {4000, 5000, 0, false, false, false}},
			rack: rackSeg{end: 4000}, rtt: 10 * ms, minRTT: 10 * ms, srtt: 10 * ms, mult: 1, inRec: true, now: 20 * ms,
			lost: []bool{false, false, false, false, false}, next: -1,
		},
		{
			name: "a lost retransmission: new data sent with it was delivered",
			segs: []rackSeg{{0, 1000, 5 * ms, true, false, false}, {1000, 5000, 0, false, true, false},
				{5000, 6000, 5 * ms, false, true, false}},
			rack: rackSeg{end: 6000, at: 5 * ms}, rtt: 10 * ms, minRTT: 10 * ms, srtt: 10 * ms, mult: 1, inRec: true, now: 15 * ms,
			lost: []bool{true, false, false}, next: -1,
		},
		{
			name: "the timer is set for the earliest deadline",
			segs: []rackSeg{{0, 1000, 0, false, false, false}, {1000, 2000, 2 * ms, false, false, false}, {2000, 3000, 4 * ms, false, true, false}},
			rack: rackSeg{end: 3000, at: 4 * ms}, rtt: 10 * ms, minRTT: 8 * ms, srtt: 10 * ms, mult: 1, now: 11 * ms,
			lost: []bool{false, false, false}, next: 12 * ms,
		},
		{
			name: "what is due is lost, the timer waits for the rest",
			segs: []rackSeg{{0, 1000, 0, false, false, false}, {1000, 2000, 2 * ms, false, false, false}, {2000, 3000, 4 * ms, false, true, false}},
			rack: rackSeg{end: 3000, at: 4 * ms}, rtt: 10 * ms, minRTT: 8 * ms, srtt: 10 * ms, mult: 1, now: 13 * ms,
			lost: []bool{true, false, false}, next: 14 * ms,
		},
		{
			name: "marked segments are not marked again",
			segs: []rackSeg{{0, 1000, 0, false, false, true}, {1000, 2000, 0, false, false, false}, {2000, 5000, 0, false, true, false}},
			rack: rackSeg{end: 5000}, rtt: 10 * ms, minRTT: 10 * ms, srtt: 10 * ms, mult: 1, inRec: true, now: 10 * ms,
			lost: []bool{true, true, false}, next: -1,
		},
		{
			name: "nothing delivered yet: nothing judged",
			segs: []rackSeg{{0, 1000, 0, false, false, false}},
			rack: rackSeg{end: 0, at: -1}, rtt: 0, minRTT: 10 * ms, srtt: 10 * ms, mult: 1, now: time.Second,
			lost: []bool{false}, next: -1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScript(t, nil)
			c, _ := sc.establishedRTT(sackOpts, 10*ms)
			t0 := sc.now
			base := rackSetup(c, t0, tc.segs)
			r := &c.snd.rack
			r.xmit, r.endSeq, r.rtt = t0.Add(tc.rack.at), base+tc.rack.end, tc.rtt
			if tc.rack.at < 0 {
				r.xmit = time.Time{}
			}
			r.minRTT, r.reorderingSeen, r.reoWndMult = tc.minRTT, tc.seen, tc.mult
			c.snd.srtt, c.snd.inRecovery = tc.srtt, tc.inRec
			before := sc.s.ctr.rackLost
			sc.now = t0.Add(tc.now)
			sc.s.now = sc.now
			next := c.rackDetectLoss()
			marked := 0
			for i, g := range c.snd.sb.segs {
				if g.lost != tc.lost[i] {
					t.Errorf("segment %d [%d,%d): lost %v, want %v", i, g.start-base, g.end-base, g.lost, tc.lost[i])
				}
				if g.lost && !tc.segs[i].lost {
					marked++
				}
			}
			if got := sc.s.ctr.rackLost - before; got != uint64(marked) {
				t.Errorf("counted %d lost, marked %d", got, marked)
			}
			want := time.Time{}
			if tc.next >= 0 {
				want = t0.Add(tc.next)
			}
			if !next.Equal(want) {
				t.Errorf("next deadline %v, want %v", next.Sub(t0), tc.next)
			}
			checkScoreboard(t, c)
		})
	}
}

// TestRACKUpdate checks §6.2 steps 2 and 3: what one ACK's deliveries do
// to RACK.segment, RACK.rtt and RACK.reordering_seen.
func TestRACKUpdate(t *testing.T) {
	type delivery struct {
		end     uint32
		at      time.Duration
		retrans bool
		cum     bool
	}
	for _, tc := range []struct {
		name      string
		ts        bool
		tsecr     time.Duration // TSecr: our timestamp clock at this instant
		rack      rackSeg       // RACK.segment before (at < 0: none)
		fack      uint32
		now       time.Duration
		del       []delivery
		wantRACK  rackSeg
		wantRTT   time.Duration
		wantSeen  bool
		wantFack  uint32
		unchanged bool // RACK.rtt untouched
	}{
		{
			name: "the latest sent of an ACK's segments is RACK.segment",
			rack: rackSeg{at: -1}, now: 20 * ms,
			del:      []delivery{{1000, 1 * ms, false, true}, {3000, 2 * ms, false, false}, {2000, 2 * ms, false, false}},
			wantRACK: rackSeg{end: 3000, at: 2 * ms}, wantRTT: 18 * ms, wantFack: 3000,
		},
		{
			name: "an older segment delivered late: its RTT, not its place",
			rack: rackSeg{end: 6000, at: 5 * ms}, fack: 6000, now: 30 * ms,
			del:      []delivery{{2000, 1 * ms, false, true}},
			wantRACK: rackSeg{end: 6000, at: 5 * ms}, wantRTT: 29 * ms, wantSeen: true, wantFack: 6000,
		},
		{
			name: "a retransmission delivered below fack is not reordering",
			rack: rackSeg{end: 6000, at: 5 * ms}, fack: 6000, now: 30 * ms,
			del:      []delivery{{2000, 15 * ms, true, true}},
			wantRACK: rackSeg{end: 2000, at: 15 * ms}, wantRTT: 15 * ms, wantFack: 6000,
		},
		{
			name: "a retransmission ACKed within min_RTT: the original's ACK",
			rack: rackSeg{end: 6000, at: 5 * ms}, fack: 6000, now: 20 * ms,
			del:      []delivery{{2000, 15 * ms, true, true}},
			wantRACK: rackSeg{end: 6000, at: 5 * ms}, wantFack: 6000, unchanged: true,
		},
		{
			name: "a cumulative ACK echoing a timestamp older than the retransmission",
			ts:   true, tsecr: 3 * ms,
			rack: rackSeg{end: 6000, at: 5 * ms}, fack: 6000, now: 40 * ms,
			del:      []delivery{{2000, 15 * ms, true, true}},
			wantRACK: rackSeg{end: 6000, at: 5 * ms}, wantFack: 6000, unchanged: true,
		},
		{
			name: "a cumulative ACK echoing the retransmission",
			ts:   true, tsecr: 15 * ms,
			rack: rackSeg{end: 6000, at: 5 * ms}, fack: 6000, now: 40 * ms,
			del:      []delivery{{2000, 15 * ms, true, true}},
			wantRACK: rackSeg{end: 2000, at: 15 * ms}, wantRTT: 25 * ms, wantFack: 6000,
		},
		{
			name: "a SACK's echo says nothing of the segment SACKed",
			ts:   true, tsecr: 3 * ms,
			rack: rackSeg{end: 6000, at: 5 * ms}, fack: 6000, now: 40 * ms,
			del:      []delivery{{7000, 15 * ms, true, false}},
			wantRACK: rackSeg{end: 7000, at: 15 * ms}, wantRTT: 25 * ms, wantFack: 7000,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScript(t, nil)
			opts := sackOpts
			if tc.ts {
				opts.HasTS, opts.TSVal = true, 100
			}
			c, _ := sc.establishedRTT(opts, 10*ms)
			t0 := sc.now
			r := &c.snd.rack
			base := c.snd.una
			r.xmit, r.endSeq, r.rtt, r.fack = t0.Add(tc.rack.at), base+tc.rack.end, 7*ms, base+tc.fack
			if tc.rack.at < 0 {
				r.xmit = time.Time{}
			}
			sc.now = t0.Add(tc.now)
			sc.s.now = sc.now
			o := Options{HasTS: tc.ts, TSEcr: sc.s.tsAt(t0.Add(tc.tsecr)) + c.tsOffset}
			smp := c.rackNewSample()
			for _, d := range tc.del {
				g := txSeg{start: base + d.end - 1000, end: base + d.end, xmit: t0.Add(d.at), retrans: d.retrans}
				c.rackDelivered(&g, &o, d.cum, &smp)
			}
			c.rackUpdate(&smp)
			if !r.xmit.Equal(t0.Add(tc.wantRACK.at)) || r.endSeq != base+tc.wantRACK.end {
				t.Errorf("RACK.segment (%v, %d), want (%v, %d)", r.xmit.Sub(t0), r.endSeq-base, tc.wantRACK.at, tc.wantRACK.end)
			}
			wantRTT := tc.wantRTT
			if tc.unchanged {
				wantRTT = 7 * ms
			}
			if r.rtt != wantRTT || r.reorderingSeen != tc.wantSeen || r.fack != base+tc.wantFack {
				t.Errorf("rtt %v seen %v fack %d, want %v %v %d", r.rtt, r.reorderingSeen, r.fack-base, wantRTT, tc.wantSeen, tc.wantFack)
			}
			if r.minRTT != 10*ms {
				t.Errorf("min_RTT %v, want the handshake's 10ms", r.minRTT)
			}
		})
	}
}

// TestRACKReoWnd checks RACK.reo_wnd (§6.2 step 4).
func TestRACKReoWnd(t *testing.T) {
	for _, tc := range []struct {
		name     string
		seen     bool
		inRec    bool
		afterRTO bool
		sacked   uint32 // bytes SACKed (MSS 1000)
		mult     int
		minRTT   time.Duration
		srtt     time.Duration
		want     time.Duration
	}{
		{"no reordering, few SACKed", false, false, false, 2000, 1, 20 * ms, 30 * ms, 5 * ms},
		{"no reordering, DupThresh SACKed", false, false, false, 2001, 1, 20 * ms, 30 * ms, 0},
		{"no reordering, in recovery", false, true, false, 1000, 1, 20 * ms, 30 * ms, 0},
		{"no reordering, repairing an RTO", false, false, true, 1000, 1, 20 * ms, 30 * ms, 0},
		{"reordering seen, in recovery", true, true, false, 5000, 1, 20 * ms, 30 * ms, 5 * ms},
		{"widened by D-SACKs", true, false, false, 0, 3, 20 * ms, 30 * ms, 15 * ms},
		{"at most SRTT", true, false, false, 0, 8, 20 * ms, 30 * ms, 30 * ms},
		{"no RTT sample yet", false, false, false, 0, 1, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScript(t, nil)
			c, _ := sc.establishedRTT(sackOpts, 10*ms)
			c.Write(make([]byte, 6000))
			snd := &c.snd
			if tc.sacked > 0 {
				snd.sb.add(SACKBlock{snd.max - tc.sacked, snd.max}, snd.una, snd.max, func(*txSeg) {})
			}
			snd.rack.reorderingSeen, snd.rack.reoWndMult, snd.rack.minRTT = tc.seen, tc.mult, tc.minRTT
			snd.srtt, snd.inRecovery = tc.srtt, tc.inRec
			if tc.afterRTO {
				snd.afterRTO, snd.recover = true, snd.max
			}
			if got := c.rackReoWnd(); got != tc.want {
				t.Errorf("reo_wnd %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRACKReoWndAdapt follows §6.2 step 4's D-SACK rounds: one step per
// round trip that brings D-SACKs, back to one after 16 recoveries
// without, and no growth past SRTT.
func TestRACKReoWndAdapt(t *testing.T) {
	sc := newScript(t, nil)
	c, _ := sc.establishedRTT(sackOpts, 10*ms)
	snd := &c.snd
	r := &snd.rack
	r.minRTT, snd.srtt = 20*ms, 30*ms
	base := snd.una
	snd.max = base + 10000
	steps := []struct {
		una           uint32
		dsack, exit   bool
		mult, persist int
		seen          bool
	}{
		{0, false, false, 1, 0, false},
		{0, true, false, 2, 16, true},     // first D-SACK: the round ends at SND.MAX (10000)
		{5000, true, false, 2, 16, true},  // same round: no further step
		{10000, true, false, 3, 16, true}, // next round
		{10000, false, true, 3, 15, true}, // a recovery without D-SACK
	}
	for i, s := range steps {
		snd.una = base + s.una
		c.rackUpdateReoWnd(s.dsack, s.exit)
		if r.reoWndMult != s.mult || r.reoWndPersist != s.persist || r.reorderingSeen != s.seen {
			t.Fatalf("step %d: mult %d persist %d seen %v, want %d %d %v", i, r.reoWndMult, r.reoWndPersist, r.reorderingSeen, s.mult, s.persist, s.seen)
		}
	}
	for i := 0; i < rackReoPersist-2; i++ {
		c.rackUpdateReoWnd(false, true)
	}
	if r.reoWndMult != 3 {
		t.Fatalf("mult %d after 15 quiet recoveries, want 3", r.reoWndMult)
	}
	c.rackUpdateReoWnd(false, true)
	if r.reoWndMult != 1 {
		t.Fatalf("mult %d after 16 quiet recoveries, want 1", r.reoWndMult)
	}
	// 6 * 20ms/4 = 30ms = SRTT: a seventh step would change nothing.
	for i := 0; i < 10; i++ {
		snd.max += 1000
		snd.una = snd.max
		c.rackUpdateReoWnd(false, false) // ends the round
		c.rackUpdateReoWnd(true, false)
	}
	if r.reoWndMult != 6 || c.rackReoWnd() != 30*ms {
		t.Fatalf("mult %d reo_wnd %v, want 6 and SRTT", r.reoWndMult, c.rackReoWnd())
	}
}

// TestScoreboardSegs checks the transmission records: splitting on SACK
// and ACK edges and on partial retransmission, and the lost total.
func TestScoreboardSegs(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sb scoreboard
	sb.sent(0, 1000, t0, false)
	sb.sent(1000, 4000, t0.Add(ms), false) // a TSO frame
	sb.sent(4000, 5000, t0.Add(2*ms), false)
	var got []uint32
	note := func(g *txSeg) { got = append(got, g.start, g.end) }
	if !sb.add(SACKBlock{2000, 3000}, 0, 5000, note) || len(got) != 2 || got[0] != 2000 || got[1] != 3000 {
		t.Fatalf("SACK delivered %v", got)
	}
	got = nil
	if sb.add(SACKBlock{2000, 3000}, 0, 5000, note) || got != nil {
		t.Fatalf("a repeated SACK delivered %v", got)
	}
	sb.markLost(0)
	sb.markLost(1) // [1000,2000)
	if sb.lostBytes != 2000 {
		t.Fatalf("lost %d", sb.lostBytes)
	}
	sb.sent(500, 1500, t0.Add(10*ms), true) // resends part of two records
	want := []txSeg{
		{0, 500, t0, false, false, true},
		{500, 1000, t0.Add(10 * ms), true, false, false},
		{1000, 1500, t0.Add(10 * ms), true, false, false},
		{1500, 2000, t0.Add(ms), false, false, true},
		{2000, 3000, t0.Add(ms), false, true, false},
		{3000, 4000, t0.Add(ms), false, false, false},
		{4000, 5000, t0.Add(2 * ms), false, false, false},
	}
	if len(sb.segs) != len(want) {
		t.Fatalf("records %+v", sb.segs)
	}
	for i := range want {
		if sb.segs[i] != want[i] {
			t.Fatalf("record %d: %+v, want %+v", i, sb.segs[i], want[i])
		}
	}
	if sb.lostBytes != 1000 {
		t.Fatalf("lost %d, want 1000", sb.lostBytes)
	}
	got = nil
	sb.ackSegs(2500, note) // the SACKed record was delivered already
	if len(got) != 8 || got[6] != 1500 || got[7] != 2000 || sb.lostBytes != 0 || sb.segs[0].start != 2500 {
		t.Fatalf("ACK delivered %v, lost %d, first record %+v", got, sb.lostBytes, sb.segs[0])
	}
	// A retransmission over a range with no record (forgotten after an
	// RTO, SACKed) fills the gap.
	sb.forgetSent()
	sb.sent(3000, 4000, t0.Add(20*ms), true)
	sb.sent(5000, 6000, t0.Add(20*ms), false)
	sb.sent(2500, 5000, t0.Add(30*ms), true)
	if len(sb.segs) != 4 || sb.segs[0] != (txSeg{2500, 3000, t0.Add(30 * ms), true, false, false}) ||
		sb.segs[2] != (txSeg{4000, 5000, t0.Add(30 * ms), true, false, false}) || sb.segs[3].start != 5000 {
		t.Fatalf("records %+v", sb.segs)
	}
}

// TestRACKLostRetransmissionScript: a retransmission is lost too. DupThresh
// could only wait for the RTO; RACK sees that new data sent with the
// retransmission was delivered and resends it one round trip later.
func TestRACKLostRetransmissionScript(t *testing.T) {
	const rtt = 10 * ms
	sc := newScript(t, nil)
	c, iss := sc.establishedRTT(sackOpts, rtt)
	c.SetNoDelay(true)
	c.Write(make([]byte, 10000))
	for i := 0; i < 10; i++ {
		sc.expect(FlagACK|FlagPSH*Flags(b2i(i == 9)), iss+1+uint32(i)*1000, 0)
	}
	base := iss + 1
	sack := func(ack uint32, bl ...SACKBlock) {
		o := Options{NumSACK: len(bl)}
		copy(o.SACK[:], bl)
		sc.inject(seg{seq: peerISS + 1, ack: ack, flags: FlagACK, wnd: 65535, opts: o})
	}
	// The first segment is lost; a round trip later the SACKs of the
	// next three come back. The first two leave it a quarter of min_RTT
	// (reordering, perhaps); with the third, more than DupThresh-1
	// segments are SACKed and it is lost at once.
	sc.advance(rtt)
	t1 := sc.now
	sack(base, SACKBlock{base + 1000, base + 2000})
	sack(base, SACKBlock{base + 1000, base + 3000})
	sc.expectNone()
	if !c.snd.rackTimer.armed() || !c.snd.rackTimer.when.Equal(t1.Add(rtt/4)) {
		t.Fatalf("reordering timer armed %v for %v, want %v", c.snd.rackTimer.armed(), c.snd.rackTimer.when.Sub(t1), rtt/4)
	}
	sack(base, SACKBlock{base + 1000, base + 4000})
	sc.expect(FlagACK, base, 0)
	// The rest is SACKed; the application writes more, which goes out
	// after the retransmission, in the same instant.
	sack(base, SACKBlock{base + 1000, base + 10000})
	c.Write(make([]byte, 2000))
	sc.expect(FlagACK, base+10000, 0)
	sc.expect(FlagACK|FlagPSH, base+11000, 0)
	sc.expectNone()
	// The retransmission is lost; the new data's SACK arrives.
	sc.advance(rtt)
	sack(base, SACKBlock{base + 1000, base + 11000})
	r := sc.expect(FlagACK, base, 0)
	if len(r.data) != 1000 {
		t.Fatalf("second retransmission of %d bytes", len(r.data))
	}
	st := sc.s.Stats()
	if st.RACKLost != 2 || st.Timeouts != 0 || st.FastRecoveries != 1 || sc.now.Sub(t1) != rtt {
		t.Fatalf("RACK lost %d, timeouts %d, recoveries %d, after %v", st.RACKLost, st.Timeouts, st.FastRecoveries, sc.now.Sub(t1))
	}
	sc.advance(rtt)
	sc.inject(seg{seq: peerISS + 1, ack: base + 12000, flags: FlagACK, wnd: 65535})
	if c.snd.inRecovery || c.snd.una != base+12000 || c.snd.rackTimer.armed() || c.snd.rtoTimer.armed() {
		t.Fatal("recovery did not end")
	}
}

// TestRACKReorderTimerScript: one segment SACKed above a hole, nothing
// more: the reordering timer, not the RTO, declares the hole lost.
func TestRACKReorderTimerScript(t *testing.T) {
	const rtt = 40 * ms
	sc := newScript(t, nil)
	c, iss := sc.establishedRTT(sackOpts, rtt)
	c.SetNoDelay(true)
	c.Write(make([]byte, 2000))
	sc.expect(FlagACK, iss+1, 0)
	sc.expect(FlagACK|FlagPSH, iss+1001, 0)
	sc.advance(rtt)
	base := iss + 1
	o := Options{NumSACK: 1, SACK: [maxSACKBlocks]SACKBlock{{base + 1000, base + 2000}}}
	sc.inject(seg{seq: peerISS + 1, ack: base, flags: FlagACK, wnd: 65535, opts: o})
	sc.advance(rtt/4 - time.Microsecond)
	sc.expectNone()
	sc.advance(time.Microsecond)
	sc.expect(FlagACK, base, 0)
	if st := sc.s.Stats(); st.RACKReorderTimeouts != 1 || st.RACKLost != 1 || st.TailLossProbes != 0 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// pushOneWay moves n bytes from c to s on sm, checking every byte.
func pushOneWay(t *testing.T, sm *sim, c, s *Conn, n uint64) {
	t.Helper()
	st := newStreamer(t, 1, n, c, s)
	end := sm.now.Add(time.Hour)
	for !st.done() {
		st.pump()
		if st.done() {
			break
		}
		if !sm.step() || sm.now.After(end) {
			st.pump()
			if !st.done() {
				sm.fail("stalled after %d of %d bytes", st.read, n)
			}
		}
	}
	if st.err != nil {
		sm.fail("stream: %v", st.err)
	}
}

// dataTo reports whether seg carries data towards the server.
func dataTo(toB bool, seg []byte) bool { return toB && len(Header(seg).Payload()) > 0 }

// TestRACKLostRetransmission: a segment and its first retransmission are
// both lost. RACK repairs it within a few round trips, where RFC 6675
// would wait for the RTO.
func TestRACKLostRetransmission(t *testing.T) {
	const oneWay = 10 * ms
	sm := newSim(t, linkConfig{Rate: 125e6, Delay: oneWay}, 1, nil)
	c, s := connectPair(t, sm)
	victim := c.snd.nxt + 100<<10 // the segment starting 100 KiB in (or just past)
	var seen int
	var first, repaired time.Time
	sm.impair = func(toB bool, seg []byte) (bool, time.Duration) {
		if !dataTo(toB, seg) || seqLT(Header(seg).Seq(), victim) {
			return false, 0
		}
		if seen == 0 {
			victim = Header(seg).Seq()
		}
		if Header(seg).Seq() != victim {
			return false, 0
		}
		seen++
		if seen == 1 {
			first = sm.now
		}
		if seen <= 2 {
			return true, 0
		}
		repaired = sm.now
		return false, 0
	}
	pushOneWay(t, sm, c, s, 1<<20)
	st := sm.a.Stats()
	t.Logf("sent at %v, resent (lost) and resent again %v later; %+v", first, repaired.Sub(first), st)
	if seen != 3 {
		t.Fatalf("the victim went out %d times, want 3", seen)
	}
	if st.Timeouts != 0 || st.RACKLost < 2 || st.FastRecoveries == 0 {
		t.Fatalf("timeouts %d, RACK lost %d, fast recoveries %d", st.Timeouts, st.RACKLost, st.FastRecoveries)
	}
	// Three round trips: the hole's SACKs, the lost retransmission's
	// (new data sent with it delivered), and the repair; the RTO is at
	// least MinRTO (200 ms) after the first retransmission.
	if d := repaired.Sub(first); d > 3*2*oneWay+5*ms || d >= sm.a.cfg.MinRTO {
		t.Fatalf("repaired after %v", d)
	}
}

// paced writes count chunks of size bytes to c, one every gap of
// simulated time, without closing, and reads and checks them on s. It
// returns once everything written was read. before, if set, runs ahead
// of each write.
func paced(t *testing.T, sm *sim, c, s *Conn, size, count int, gap time.Duration, before func(k int)) {
	t.Helper()
	buf, got, want := make([]byte, size), make([]byte, 64<<10), make([]byte, 64<<10)
	var written, read uint64
	next := sm.now
	end := sm.now.Add(time.Duration(count)*gap + time.Minute)
	for k := 0; k < count || read < written; {
		if k < count && !sm.now.Before(next) {
			if before != nil {
				before(k)
			}
			fillPattern(1, written, buf)
			if n, err := c.Write(buf); n != size {
				sm.fail("chunk %d: wrote %d of %d: %v", k, n, size, err)
			}
			written += uint64(size)
			k++
			next = next.Add(gap)
		}
		for {
			n, _ := s.Read(got)
			if n == 0 {
				break
			}
			fillPattern(1, read, want[:n])
			if string(got[:n]) != string(want[:n]) {
				sm.fail("bad data at %d", read)
			}
			read += uint64(n)
		}
		if k == count && read == written {
			break
		}
		if at, ok := sm.nextEvent(); k < count && (!ok || at.After(next)) {
			sm.now = next
			continue
		}
		if !sm.step() || sm.now.After(end) {
			sm.fail("stalled: %d of %d bytes read", read, written)
		}
	}
}

// TestRACKReordering: on a 20 ms path without loss, one segment of each
// burst is held back 7 ms. The first time, before any reordering was
// seen, that costs a spurious retransmission; its D-SACK widens reo_wnd
// to 2 * min_RTT/4 = 10 ms, and later bursts cost none.
func TestRACKReordering(t *testing.T) {
	const (
		oneWay = 10 * ms
		hold   = 7 * ms
		chunks = 8
	)
	sm := newSim(t, linkConfig{Delay: oneWay}, 1, nil)
	c, s := connectPair(t, sm)
	c.SetNoDelay(true)
	smss := c.smss()
	size := 40 * smss
	start := c.snd.nxt
	held := map[uint32]bool{}
	sm.impair = func(toB bool, seg []byte) (bool, time.Duration) {
		seq := Header(seg).Seq()
		if !dataTo(toB, seg) || int(seq-start)%size != 19*smss || held[seq] {
			return false, 0
		}
		held[seq] = true // the 20th segment of each chunk, first sending only
		return false, hold
	}
	var afterFirst Stats
	var multAfterFirst int
	paced(t, sm, c, s, size, chunks, 100*ms, func(k int) {
		if k == 1 {
			afterFirst, multAfterFirst = sm.a.Stats(), c.snd.rack.reoWndMult
		}
	})
	st := sm.a.Stats()
	t.Logf("after the first burst: retransmits %d, D-SACKs %d, reo_wnd_mult %d; at the end: retransmits %d, RACK lost %d",
		afterFirst.Retransmits, afterFirst.DSACKsReceived, multAfterFirst, st.Retransmits, st.RACKLost)
	if len(held) != chunks {
		t.Fatalf("%d segments held back, want %d", len(held), chunks)
	}
	if afterFirst.Retransmits != 1 || afterFirst.DSACKsReceived != 1 || multAfterFirst != 2 || !c.snd.rack.reorderingSeen {
		t.Fatalf("first burst: %d retransmits, %d D-SACKs, reo_wnd_mult %d, reordering seen %v",
			afterFirst.Retransmits, afterFirst.DSACKsReceived, multAfterFirst, c.snd.rack.reorderingSeen)
	}
	if st.Retransmits != afterFirst.Retransmits || st.RACKLost != afterFirst.RACKLost || st.Timeouts != 0 || st.TailLossProbes != 0 {
		t.Fatalf("later bursts: %d more retransmissions (%d more marked lost), %d timeouts, %d probes",
			st.Retransmits-afterFirst.Retransmits, st.RACKLost-afterFirst.RACKLost, st.Timeouts, st.TailLossProbes)
	}
}

// TestRACKTailLossProbe: the last two segments of a flight are lost. The
// loss probe resends the last; its SACK lets RACK mark the other lost,
// and both are repaired long before the RTO.
func TestRACKTailLossProbe(t *testing.T) {
	const oneWay = 10 * ms
	sm := newSim(t, linkConfig{Delay: oneWay}, 1, nil)
	c, s := connectPair(t, sm)
	c.SetNoDelay(true)
	n := 10 * c.smss()
	tail := c.snd.nxt + uint32(n-2*c.smss())
	dropped := map[uint32]bool{}
	sm.impair = func(toB bool, seg []byte) (bool, time.Duration) {
		seq := Header(seg).Seq()
		if dataTo(toB, seg) && seqGEQ(seq, tail) && !dropped[seq] {
			dropped[seq] = true
			return true, 0
		}
		return false, 0
	}
	t0 := sm.now
	paced(t, sm, c, s, n, 1, 0, nil)
	st := sm.a.Stats()
	t.Logf("delivered in %v: %+v", sm.now.Sub(t0), st)
	if len(dropped) != 2 || st.TailLossProbes != 1 || st.RACKLost != 1 || st.Timeouts != 0 || st.Retransmits != 2 {
		t.Fatalf("dropped %d, probes %d, RACK lost %d, timeouts %d, retransmits %d",
			len(dropped), st.TailLossProbes, st.RACKLost, st.Timeouts, st.Retransmits)
	}
	// The flight and its last (delayed) ACK, 60 ms; the PTO, 2 SRTT =
	// 40 ms; the probe's SACK and the repair, a round trip each: 140 ms.
	// The RTO alone would fire only 200 ms after that last ACK.
	if d := sm.now.Sub(t0); d > 3*2*oneWay+sm.b.cfg.DelayedACK+2*2*oneWay {
		t.Fatalf("repaired after %v", d)
	}
}

// TestRACKLossyTransfer: random loss both ways; RACK does the loss
// detection and every byte arrives once, in order.
func TestRACKLossyTransfer(t *testing.T) {
	for _, cc := range []string{"cubic", "newreno"} {
		t.Run(cc, func(t *testing.T) {
			sm := transfer(t, linkConfig{Rate: 125e6, Delay: 2 * ms, Loss: 0.02}, 5, 2<<20, func(c *Config) { c.Congestion = cc })
			for _, st := range []Stats{sm.a.Stats(), sm.b.Stats()} {
				t.Logf("retrans %d fastrec %d RACK lost %d reorder timeouts %d rto %d",
					st.Retransmits, st.FastRecoveries, st.RACKLost, st.RACKReorderTimeouts, st.Timeouts)
				if st.RACKLost == 0 || st.FastRecoveries == 0 {
					t.Errorf("RACK marked nothing lost: %+v", st)
				}
			}
		})
	}
}
