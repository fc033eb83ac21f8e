package tcp

import "time"

// RACK, RFC 8985 §6: time-based loss detection, used instead of RFC
// 6675's DupThresh rule on connections that negotiated SACK (without SACK
// the sender keeps NewReno's three duplicate ACKs).
//
// Every transmission is timed (txSeg.xmit, on the scoreboard). When an ACK
// shows a segment delivered, a segment sent before it that is still
// missing is lost once it has been out for RACK.rtt plus a reordering
// window: the rule asks how long ago, not how many segments behind, so it
// works for short flights and for lost retransmissions, which DupThresh
// can only leave to the RTO. Segments not yet due are re-examined when
// the reordering timer fires. Lost segments are retransmitted by the SACK
// recovery in snd.go, which reduces the window once per episode as before.
//
// The reordering timer is a timer of its own beside the retransmission
// timer (which runs as the RTO or TLP's PTO): it is stopped when nothing
// is outstanding, and on an RTO, which forgets the transmissions.
//
// Departures from the RFC's pseudocode, for simplicity: RACK.min_RTT is
// the least RTT seen on the connection, not a windowed minimum (§6.2 step
// 1's SHOULD); the RTO keeps its go-back-N retransmission instead of §6.3's
// marking; the timer is set for the earliest deadline, so each segment is
// declared lost as soon as it is due, where §6.2 step 5 waits for the
// latest and declares them together; RACK.segs_sacked >= DupThresh is
// counted in bytes, as RFC 6675's IsLost does (more than DupThresh-1
// SMSS); the echoed timestamp is trusted only for segments the ACK field
// covers (rackDelivered); and the reordering window's persistence (step
// 4) counts fast recoveries only, not RTO recoveries.

const (
	// rackReoWndDiv: the reordering window is a quarter of the minimum
	// RTT per step of RACK.reo_wnd_mult (§6.2 step 4).
	rackReoWndDiv = 4
	// rackReoPersist is how many recoveries without a D-SACK keep a
	// widened reordering window (RACK.reo_wnd_persist, §6.2 step 4).
	rackReoPersist = 16
)

// rackState is the sender's RACK state (RFC 8985 §5.2).
type rackState struct {
	xmit           time.Time     // RACK.xmit_ts: sending time of the latest-sent segment delivered (zero: none)
	endSeq         uint32        // RACK.end_seq: that segment's end
	rtt            time.Duration // RACK.rtt: its round trip
	minRTT         time.Duration // RACK.min_RTT (0: no sample yet)
	fack           uint32        // RACK.fack: the highest end delivered
	reorderingSeen bool          // RACK.reordering_seen
	dsackRound     uint32        // RACK.dsack_round, while dsackActive
	dsackActive    bool
	reoWndMult     int // RACK.reo_wnd_mult, >= 1
	reoWndPersist  int // RACK.reo_wnd_persist
}

// rackSample gathers what one ACK tells RACK (§6.2 steps 2 and 3) before
// it is folded into rackState.
type rackSample struct {
	ok        bool      // a valid segment was delivered
	xmit      time.Time // the latest-sent of them
	end       uint32
	fack      uint32 // highest end delivered so far
	reordered bool
}

// rackSentAfter is RACK_sent_after: a transmission at t1 ending at seq1
// came after one at t2 ending at seq2 if it is later, or as late and
// higher in sequence space (segments of one burst share a time).
func rackSentAfter(t1 time.Time, seq1 uint32, t2 time.Time, seq2 uint32) bool {
	return t1.After(t2) || t1.Equal(t2) && seqGT(seq1, seq2)
}

// rackInit starts the RACK state of a connection whose ISS is iss.
func (c *Conn) rackInit(iss uint32) {
	c.snd.rack = rackState{fack: iss, reoWndMult: 1}
}

// rackNewSample starts the sample of an ACK.
func (c *Conn) rackNewSample() rackSample { return rackSample{fack: c.snd.rack.fack} }

// rackDelivered folds one newly delivered transmission into the ACK's
// sample; cum says the ACK field (not a SACK block) delivered it.
func (c *Conn) rackDelivered(g *txSeg, o *Options, cum bool, smp *rackSample) {
	r := &c.snd.rack
	// Step 3: a segment sent once and delivered below one delivered
	// before was overtaken in the network. (The RFC walks an ACK's
	// segments in sequence order and compares with the running fack,
	// which comes to comparing with the fack before the ACK.)
	if !g.retrans && seqLT(g.end, r.fack) {
		smp.reordered = true
	}
	if seqGT(g.end, smp.fack) {
		smp.fack = g.end
	}
	// Step 2: the ACK of a retransmitted segment may be for an earlier
	// transmission; timing it from the last one would make RACK.rtt too
	// small. The echoed timestamp tells when it predates the last
	// transmission, but only for a segment the ACK field covers: the
	// peer takes TS.Recent from the segment at RCV.NXT (RFC 7323 §4.3),
	// so an ACK drawn by a segment above a hole echoes an older one.
	// Failing that, an RTT below the minimum gives it away.
	if g.retrans {
		if cum && c.tsOK && o.HasTS && seqLT(o.TSEcr, c.s.tsAt(g.xmit)+c.tsOffset) {
			return
		}
		if c.s.now.Sub(g.xmit) < r.minRTT {
			return
		}
	}
	if !smp.ok || rackSentAfter(g.xmit, g.end, smp.xmit, smp.end) {
		smp.ok, smp.xmit, smp.end = true, g.xmit, g.end
	}
}

// rackMinRTT folds an RTT measurement into RACK.min_RTT (§6.2 step 1).
func (c *Conn) rackMinRTT(rtt time.Duration) {
	if r := &c.snd.rack; rtt > 0 && (r.minRTT == 0 || rtt < r.minRTT) {
		r.minRTT = rtt
	}
}

// rackUpdate folds an ACK's sample into the state: §6.2 steps 1-3.
// RACK.rtt is the round trip of the latest-sent segment this ACK
// delivered; RACK.segment moves only forward in sending order.
func (c *Conn) rackUpdate(smp *rackSample) {
	r := &c.snd.rack
	r.fack = smp.fack
	if smp.reordered {
		r.reorderingSeen = true
	}
	if !smp.ok {
		return
	}
	r.rtt = c.s.now.Sub(smp.xmit)
	c.rackMinRTT(r.rtt)
	if r.xmit.IsZero() || rackSentAfter(smp.xmit, smp.end, r.xmit, r.endSeq) {
		r.xmit, r.endSeq = smp.xmit, smp.end
	}
}

// rackUpdateReoWnd is §6.2 step 4's adaptation: every round trip that
// brings a D-SACK (a retransmission proved spurious, so the window was
// too small) widens the window by another min_RTT/4, and 16 recoveries
// without one shrink it back. dsack says this ACK carried one, exited
// that it ended a fast recovery.
func (c *Conn) rackUpdateReoWnd(dsack, exited bool) {
	snd := &c.snd
	r := &snd.rack
	if r.dsackActive && seqGEQ(snd.una, r.dsackRound) {
		r.dsackActive = false
	}
	if dsack {
		r.reorderingSeen = true
	}
	switch {
	case dsack && !r.dsackActive:
		r.dsackActive, r.dsackRound = true, snd.max
		// Past SRTT a wider window has no effect (rackReoWnd).
		if time.Duration(r.reoWndMult)*r.minRTT/rackReoWndDiv < snd.srtt {
			r.reoWndMult++
		}
		r.reoWndPersist = rackReoPersist
	case exited && r.reoWndPersist > 0:
		r.reoWndPersist--
		if r.reoWndPersist == 0 {
			r.reoWndMult = 1
		}
	}
}

// rackReoWnd is RACK.reo_wnd (§6.2 step 4). Until reordering has been
// seen, a loss is presumed (no wait) in recovery or once more than
// DupThresh-1 segments' worth is SACKed, as DupThresh would; otherwise
// the wait is a quarter of the minimum RTT per step of the multiplier,
// never more than SRTT.
func (c *Conn) rackReoWnd() time.Duration {
	snd := &c.snd
	r := &snd.rack
	if !r.reorderingSeen {
		if snd.inRecovery || snd.afterRTO && seqLT(snd.una, snd.recover) {
			return 0
		}
		if int(snd.sb.sackedBetween(snd.una, snd.max)) > (dupThresh-1)*c.smss() {
			return 0
		}
	}
	return min(time.Duration(r.reoWndMult)*r.minRTT/rackReoWndDiv, snd.srtt)
}

// rackDetectLoss is §6.2 step 5: every transmission not yet delivered
// that went out before RACK.segment and has waited RACK.rtt + reo_wnd
// since is lost. It returns the earliest instant at which one of the
// others will be due (zero if none is pending).
func (c *Conn) rackDetectLoss() time.Time {
	snd := &c.snd
	r := &snd.rack
	if r.xmit.IsZero() {
		return time.Time{}
	}
	wait := r.rtt + c.rackReoWnd()
	now := c.s.now
	var next time.Time
	sb := &snd.sb
	for i := range sb.segs {
		g := &sb.segs[i]
		if g.sacked || g.lost {
			continue
		}
		if !rackSentAfter(r.xmit, r.endSeq, g.xmit, g.end) {
			if !g.retrans {
				// First transmissions go out in sequence order,
				// so everything above was sent later still.
				break
			}
			continue
		}
		due := g.xmit.Add(wait)
		if !due.After(now) {
			sb.markLost(i)
			c.s.ctr.rackLost += uint64(c.segsIn(int(g.end - g.start)))
			continue
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next
}

// segsIn is how many segments of at most SMSS n bytes make.
func (c *Conn) segsIn(n int) int {
	smss := max(c.smss(), 1)
	return max(1, (n+smss-1)/smss)
}

// rackDetectAndArm runs the loss detection and arms the reordering timer
// for what is not yet due (§6.3); it reports whether anything is marked
// lost and awaits retransmission.
func (c *Conn) rackDetectAndArm() bool {
	snd := &c.snd
	if next := c.rackDetectLoss(); next.IsZero() {
		c.s.stopTimer(snd.rackTimer)
	} else {
		c.s.setTimer(snd.rackTimer, next)
	}
	return snd.sb.lostBytes > 0
}

// rackOnAck runs RACK for an ACK (§6.2) whose deliveries smp gathered,
// and starts a recovery if it found a loss.
func (c *Conn) rackOnAck(smp *rackSample, dsack, exited bool) {
	c.rackUpdate(smp)
	c.rackUpdateReoWnd(dsack, exited)
	if c.rackDetectAndArm() && !c.snd.inRecovery {
		c.enterRecovery()
	}
}

// onRACKTimer is the reordering timer (§6.3): segments that were
// waiting out the reordering window are due; detect again and
// retransmit what is lost.
func (c *Conn) onRACKTimer() {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
	default:
		return
	}
	if !c.sackOK || c.snd.una == c.snd.max {
		return
	}
	c.s.ctr.rackTimeouts++
	if c.rackDetectAndArm() && !c.snd.inRecovery {
		c.enterRecovery()
	}
	c.output()
}
