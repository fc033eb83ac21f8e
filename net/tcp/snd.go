package tcp

import "time"

// The send side: the send buffer, segmentation (Nagle, sender SWS
// avoidance), retransmission (RFC 6298 RTO with Karn's rule and backoff;
// fast retransmit with NewReno (RFC 6582) or, with SACK, recovery of the
// segments RACK (RFC 8985; rack.go) deems lost, in the manner of RFC
// 6675; limited transmit (RFC 3042)), zero-window probes and the handling
// of ACKs.
//
// Sequence space: buf holds every byte from bufSeq on that is not yet
// acknowledged, sent or not. SYN occupies iss, FIN finSeq. una <= nxt <=
// max, where max is the highest sequence number ever sent and nxt the next
// to send (nxt falls back to una after an RTO, "go back N").
type sender struct {
	buf    ring
	bufSeq uint32

	una, nxt, max uint32
	wnd           uint32 // peer's window, scaled
	maxWnd        uint32 // largest window the peer has offered
	wl1, wl2      uint32 // segment seq/ack of the last window update
	shift         uint8  // peer's window scale
	mss           int    // peer's MSS (for a 20-byte header), limited by our MTU and PMTU

	finQueued bool
	finSeq    uint32

	nodelay   bool
	wantWrite bool // a Write came up short: report EventWritable on space

	cc      congestion // points at one of the two below
	ccReno  newReno
	ccCubic cubic

	// RTT estimation, RFC 6298 §2; one segment timed at a time.
	srtt, rttvar, rto time.Duration
	hasRTT            bool
	rttTiming         bool
	rttSeq            uint32
	rttTime           time.Time
	retries           int // consecutive RTOs without progress
	retrans           uint64

	// Loss recovery.
	dupAcks    int
	inRecovery bool
	recover    uint32 // RFC 6582 "recover": max when recovery began
	afterRTO   bool   // dup ACKs below recover are from before an RTO
	rexmitUna  bool   // the first retransmission of an episode goes whatever cwnd says
	sb         scoreboard
	rack       rackState // loss detection with SACK (rack.go)
	rackTimer  *timer    // RACK's reordering timer

	// Reordering: D-SACKs (RFC 2883) that show a fast retransmission was
	// spurious widen RACK's reordering window (rack.go) and, once every
	// retransmission of an episode is shown spurious, undo its window
	// reduction (RFC 3708 §3, in the manner of Linux's undo_retrans).
	undoRetrans int // retransmissions of this episode not yet D-SACKed
	undoValid   bool

	// Tail loss probe (tlp.go).
	ptoArmed       bool // rtoTimer is running as the PTO
	tlpOutstanding bool
	tlpHighSeq     uint32

	persistBackoff time.Duration
	probed         bool // a zero-window probe byte at una may be acknowledged
	override       bool // the persist timer allows a segment smaller than SWS avoidance wants
	rtoTimer       *timer
	persistTimer   *timer
}

func (c *Conn) initSend(iss uint32) {
	c.snd.una, c.snd.nxt, c.snd.max = iss, iss, iss
	c.snd.bufSeq = iss + 1
	c.rackInit(iss)
}

// smss is the sender MSS for congestion accounting: the data that fits
// in a segment beside the options every segment carries (RFC 9293
// §3.7.1's Eff.snd.MSS).
func (c *Conn) smss() int {
	if c.tsOK {
		return c.snd.mss - 12
	}
	return c.snd.mss
}

// dataOptLen is the option space of the next data segment.
func (c *Conn) dataOptLen() int {
	n := 0
	if c.tsOK {
		n = 12
	}
	if c.sackOK && (len(c.rcv.ooo) > 0 || c.rcv.hasDSACK) {
		k := min(c.rcv.numSACKRanges()+b2i(c.rcv.hasDSACK), (HeaderMaxLen-HeaderMinLen-n-4)/8)
		n += 4 + 8*k
	}
	return n
}

// sendSYN transmits (or retransmits) our SYN or SYN-ACK.
func (c *Conn) sendSYN() {
	flags := FlagSYN
	if c.state == StateSynReceived {
		flags |= FlagACK
	}
	first := c.snd.max == c.iss
	c.sendSegment(c.iss, flags, 0, 0)
	c.snd.nxt = c.iss + 1
	c.snd.max = c.snd.nxt
	if first {
		c.snd.rttTiming, c.snd.rttSeq, c.snd.rttTime = true, c.iss+1, c.s.now
	} else {
		c.snd.rttTiming = false
		c.snd.retrans++
		c.s.ctr.retransSegs++
	}
	if !c.snd.rtoTimer.armed() {
		c.s.resetTimer(c.snd.rtoTimer, c.snd.rto)
	}
}

// sendSegment builds and transmits one segment carrying n bytes of the
// send buffer starting off bytes past bufSeq.
func (c *Conn) sendSegment(seq uint32, flags Flags, off, n int) {
	c.sendSegmentGSO(seq, flags, off, n, 0)
}

// sendSegmentGSO is sendSegment for a segment the link may cut into
// gso-byte pieces (TSO; 0: none).
func (c *Conn) sendSegmentGSO(seq uint32, flags Flags, off, n, gso int) {
	s := c.s
	b := s.seg
	var o Options
	if flags&FlagSYN != 0 {
		active := c.state == StateSynSent
		o.HasMSS, o.MSS = true, uint16(min(c.rcv.mss, 0xffff))
		cfg := &c.s.cfg
		if active && !cfg.NoWindowScale || c.wsOK {
			o.HasWScale, o.WScale = true, c.rcv.shift
		}
		o.SACKPerm = active && !cfg.NoSACK || c.sackOK
		o.HasTS = active && !cfg.NoTimestamps || c.tsOK
	} else {
		o.HasTS = c.tsOK
		if c.sackOK && (len(c.rcv.ooo) > 0 || c.rcv.hasDSACK) {
			c.rcv.sackBlocks(&o)
		}
	}
	if o.HasTS {
		o.TSVal = s.tsClock() + c.tsOffset
		o.TSEcr = c.rcv.tsRecent
	}
	if c.state != StateSynSent && flags&FlagRST == 0 {
		flags |= FlagACK
	}
	hl := HeaderMinLen + EncodeOptions(b[HeaderMinLen:HeaderMaxLen], &o)
	h := Header(b[:hl+n])
	h.SetSrcPort(c.local.Port())
	h.SetDstPort(c.remote.Port())
	h.SetSeq(seq)
	if flags&FlagACK != 0 {
		h.SetAck(c.rcv.nxt)
	} else {
		h.SetAck(0)
	}
	h.SetDataOffset(hl)
	h.SetFlags(flags)
	h.SetWindow(c.rcv.windowField(flags&FlagSYN != 0))
	h.SetUrgentPtr(0)
	if n > 0 {
		c.snd.buf.peek(off, b[hl:hl+n])
	}
	s.transmit(c.key(), h, gso)
	if flags&FlagACK != 0 {
		c.rcv.lastAckSent = c.rcv.nxt
		c.rcv.ackNow = false
		c.rcv.ackPending = 0
		s.stopTimer(c.rcv.delackTimer)
	}
}

// sendACK sends a bare ACK at SND.NXT.
func (c *Conn) sendACK() { c.sendSegment(c.snd.nxt, FlagACK, 0, 0) }

// challengeACK answers a suspicious segment, RFC 5961 §3.2, §4.2, §5.2.
func (c *Conn) challengeACK() {
	if c.s.challengeACKAllowed() {
		c.sendACK()
	}
}

// output sends what the windows allow, then an ACK if one is owed and no
// segment carried it.
func (c *Conn) output() {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
		c.sendData()
	}
	if c.rcv.ackNow && c.state != StateClosed && c.state != StateSynSent {
		c.sendACK()
	}
}

// pipe estimates the bytes in the network, RFC 6675 §4 for SACK (what is
// neither SACKed nor deemed lost, a retransmission counting as sent
// anew) and RFC 5681/3042 (each duplicate ACK is a segment that left)
// without.
func (c *Conn) pipe() int {
	snd := &c.snd
	inflight := int(snd.nxt - snd.una)
	if !c.sackOK {
		return max(0, inflight-snd.dupAcks*c.smss())
	}
	if len(snd.sb.blocks) == 0 && snd.sb.lostBytes == 0 {
		return inflight
	}
	return max(0, inflight-int(snd.sb.sackedBetween(snd.una, snd.nxt))-snd.sb.lostBytes)
}

func (c *Conn) sendData() {
	snd := &c.snd
	sentNew := false
	for {
		seg := snd.mss - c.dataOptLen()
		dataEnd := snd.bufSeq + uint32(snd.buf.len())
		if snd.rexmitUna && !c.sackOK {
			// Fast retransmit: the first retransmission is sent
			// whatever cwnd says (RFC 5681 §3.2 step 4).
			snd.rexmitUna = false
			n := int(seqMin(dataEnd, snd.max) - snd.una)
			if seqLT(snd.una, snd.bufSeq) {
				n = 0
			}
			n = max(0, min(n, seg))
			fin := snd.finQueued && snd.una+uint32(n) == snd.finSeq && seqGT(snd.max, snd.finSeq)
			if n > 0 || fin {
				c.transmitData(snd.una, n, fin)
			}
			continue
		}
		pipe, cwnd := c.pipe(), snd.cc.cwnd()
		if snd.inRecovery && c.sackOK {
			if start, n, fin, ok := c.nextLost(seg); ok {
				// The first retransmission of an episode goes
				// whatever cwnd says (RFC 6675 §5 step 3).
				if pipe+n > cwnd && !snd.rexmitUna {
					break
				}
				snd.rexmitUna = false
				c.transmitData(start, n, fin)
				continue
			}
			snd.rexmitUna = false
		}
		// Skip ranges the peer already holds (after an RTO rewind).
		if c.sackOK {
			if end, ok := snd.sb.covering(snd.nxt); ok && seqLEQ(end, snd.max) {
				snd.nxt = end
				continue
			}
		}
		avail := 0
		if seqLT(snd.nxt, dataEnd) {
			avail = int(dataEnd - snd.nxt)
		}
		n := min(c.s.tsoLimit(seg, c.dataOptLen()), avail)
		if c.sackOK {
			if next, ok := snd.sb.nextStart(snd.nxt); ok && seqLT(next, snd.max) {
				n = min(n, int(next-snd.nxt))
			}
		}
		winRoom := int(int32(snd.una + snd.wnd - snd.nxt))
		cwndRoom := cwnd - pipe
		limited := min(n, seg)
		n = max(0, min(n, winRoom, cwndRoom))
		if n > seg {
			// TSO: whole MSS pieces only; a short tail is left to the
			// next round, which applies Nagle and SWS avoidance to it
			// exactly as to a segment of its own.
			n -= n % seg
		}
		rexmit := seqLT(snd.nxt, snd.max)
		fin := snd.finQueued && snd.nxt+uint32(n) == snd.finSeq && (winRoom > n || n == 0 && winRoom >= 0)
		if n == 0 && !fin {
			break
		}
		if n < seg && !rexmit && !fin {
			if n < limited {
				// Cut short by a window. By cwnd: ACKs will open it.
				// By the peer's window: wait for it to open unless
				// the piece is at least half the largest window the
				// peer offered or the override (persist) timer has
				// fired (RFC 9293 §3.8.6.2.1).
				if n == cwndRoom || n < int(snd.maxWnd/2) && !snd.override {
					break
				}
			} else if !snd.nodelay && snd.nxt != snd.una {
				// Nagle (RFC 896): one small segment in flight.
				break
			}
		}
		c.transmitData(snd.nxt, n, fin)
		sentNew = sentNew || !rexmit
		if !rexmit && !snd.rttTiming {
			// Time the first segment (of a TSO frame too, so that
			// SRTT, which bounds RACK's reordering window, is the
			// same with and without offload).
			snd.rttTiming, snd.rttSeq, snd.rttTime = true, snd.nxt+uint32(min(n, seg)), c.s.now
		}
		snd.nxt += uint32(n)
		if fin {
			snd.nxt++
		}
		snd.max = seqMax(snd.max, snd.nxt)
		if fin {
			break
		}
	}
	if snd.nxt != snd.una || seqGT(snd.max, snd.una) {
		if !snd.rtoTimer.armed() || sentNew && snd.ptoArmed {
			c.armRetransmit()
		}
		c.s.stopTimer(snd.persistTimer)
	} else if int(snd.bufSeq+uint32(snd.buf.len())-snd.nxt) > 0 && !snd.persistTimer.armed() {
		// Data waits, nothing is in flight, and the peer's window is
		// zero or too small to send into: probe (RFC 9293 §3.8.6.1)
		// or, for a small window, send into it when the timer fires.
		if snd.persistBackoff == 0 {
			snd.persistBackoff = snd.rto
		}
		c.s.resetTimer(snd.persistTimer, snd.persistBackoff)
	}
}

// transmitData sends n bytes at seq (and FIN), counting retransmissions.
// More than one MSS of data goes as one TSO segment (offload.go).
func (c *Conn) transmitData(seq uint32, n int, fin bool) {
	snd := &c.snd
	seg := snd.mss - c.dataOptLen()
	segs, gso := 1, 0
	if n > seg && seg > 0 {
		segs, gso = (n+seg-1)/seg, seg
	}
	flags := FlagACK
	if n > 0 && seq+uint32(n) == snd.bufSeq+uint32(snd.buf.len()) {
		flags |= FlagPSH
	}
	if fin {
		flags |= FlagFIN
	}
	rexmit := seqLT(seq, snd.max)
	if c.sackOK {
		end := seq + uint32(n)
		if fin {
			end++
		}
		snd.sb.sent(seq, end, c.s.now, rexmit)
	}
	if rexmit {
		if snd.inRecovery {
			snd.undoRetrans++
		}
		snd.retrans += uint64(segs)
		c.s.ctr.retransSegs += uint64(segs)
		if snd.rttTiming && seqLT(seq, snd.rttSeq) {
			snd.rttTiming = false // Karn: no sample from a retransmitted segment
		}
	}
	c.sendSegmentGSO(seq, flags, int(seq-snd.bufSeq), n, gso)
}

// nextLost returns the lowest range RACK deems lost and not yet
// retransmitted (RFC 6675 §4 NextSeg rule 1, with RACK's loss marking):
// at most seg bytes of it, and whether it carries the FIN. The range may
// span several transmissions, so that a hole is cut into segments the
// same way however it was first sent (as one TSO frame or MSS by MSS).
func (c *Conn) nextLost(seg int) (start uint32, n int, fin bool, ok bool) {
	snd := &c.snd
	if snd.sb.lostBytes == 0 {
		return 0, 0, false, false
	}
	segs := snd.sb.segs
	i := 0
	for i < len(segs) && !segs[i].lost {
		i++
	}
	if i == len(segs) || seqLT(segs[i].start, snd.bufSeq) || !seqLT(segs[i].start, snd.nxt) {
		return 0, 0, false, false
	}
	start = segs[i].start
	end := segs[i].end
	for i++; i < len(segs) && segs[i].lost && segs[i].start == end && int(end-start) < seg; i++ {
		end = segs[i].end
	}
	dataEnd := end
	if snd.finQueued && end == snd.finSeq+1 {
		dataEnd = snd.finSeq
	}
	n = min(seg, int(dataEnd-start))
	return start, n, start+uint32(n) == dataEnd && dataEnd != end, true
}

// processAck handles the acknowledgment field of an acceptable segment in
// a synchronized state (RFC 9293 §3.10.7.4, fifth check). It returns false
// if the segment must be dropped.
func (c *Conn) processAck(h Header, o *Options, dataLen int) bool {
	s, snd := c.s, &c.snd
	ack, seq := h.Ack(), h.Seq()
	hi := snd.max
	if snd.probed {
		hi++
	}
	if seqGT(ack, hi) || seqLT(ack, snd.una-snd.maxWnd) {
		// RFC 5961 §5.2: an ACK for data never sent, or far below
		// what was acknowledged, draws a (limited) challenge ACK.
		s.ctr.drops[dropBadAck]++
		c.challengeACK()
		return false
	}
	newWnd := uint32(h.Window()) << snd.shift
	newSACK, dsack, exited := false, false, false
	smp := c.rackNewSample()
	sacked := func(g *txSeg) { c.rackDelivered(g, o, false, &smp) }
	if c.sackOK && o.NumSACK > 0 {
		// RFC 2883 §4: a first block below the cumulative ACK, or inside
		// the second block, reports a duplicate.
		b0 := o.SACK[0]
		if seqLEQ(b0.End, ack) || o.NumSACK > 1 && seqGEQ(b0.Start, o.SACK[1].Start) && seqLEQ(b0.End, o.SACK[1].End) {
			dsack = true
			c.onDSACK()
		}
		for i := 0; i < o.NumSACK; i++ {
			if snd.sb.add(o.SACK[i], snd.una, snd.max, sacked) {
				newSACK = true
			}
		}
	}
	dup := ack == snd.una && seqGT(snd.max, snd.una) && dataLen == 0 &&
		h.Flags()&(FlagSYN|FlagFIN) == 0 && (newWnd == snd.wnd || newSACK)

	if seqGT(ack, snd.una) {
		acked := int(ack - snd.una)
		if seqGT(ack, snd.bufSeq) {
			k := min(int(ack-snd.bufSeq), snd.buf.len())
			snd.buf.discard(k)
			snd.bufSeq += uint32(k)
		}
		snd.sb.ackSegs(ack, func(g *txSeg) { c.rackDelivered(g, o, true, &smp) })
		snd.una = ack
		snd.max = seqMax(snd.max, ack)
		snd.probed = false
		if seqLT(snd.nxt, snd.una) {
			snd.nxt = snd.una
		}
		snd.sb.trim(snd.una)
		if snd.rttTiming && seqGEQ(ack, snd.rttSeq) {
			snd.rttTiming = false
			c.rttSample(s.now.Sub(snd.rttTime))
		}
		snd.retries = 0
		snd.persistBackoff = 0
		if snd.inRecovery {
			if seqGEQ(ack, snd.recover) {
				snd.inRecovery = false
				snd.dupAcks = 0
				snd.cc.onRecoveryExit()
				exited = true
			} else if !c.sackOK {
				// NewReno partial ACK (RFC 6582 §3.2 step 5): the
				// next hole is lost too; resend it at once.
				snd.rexmitUna = true
				snd.dupAcks = 0
			}
		} else {
			snd.dupAcks = 0
			snd.cc.onAck(acked, s.now, snd.srtt)
		}
		if snd.tlpOutstanding && seqGEQ(ack, snd.tlpHighSeq) {
			snd.tlpOutstanding = false
		}
		if snd.una == snd.max {
			s.stopTimer(snd.rtoTimer)
		} else {
			c.armRetransmit()
		}
		if snd.wantWrite && snd.buf.free() > 0 && c.state.canSend() {
			snd.wantWrite = false
			c.raise(EventWritable)
		}
	} else if dup {
		snd.dupAcks++
		if snd.afterRTO && seqGT(snd.una, snd.recover) {
			snd.afterRTO = false
		}
		if !c.sackOK && !snd.inRecovery && snd.dupAcks >= dupThresh && !snd.afterRTO {
			c.enterRecovery()
		}
	}
	if c.sackOK {
		// With SACK, RACK decides what is lost (RFC 8985 §6.2).
		c.rackOnAck(&smp, dsack, exited)
	}

	// Window update, RFC 9293 §3.10.7.4.
	if seqLT(snd.wl1, seq) || snd.wl1 == seq && seqLEQ(snd.wl2, ack) {
		opened := snd.wnd == 0 && newWnd > 0
		snd.wnd, snd.wl1, snd.wl2 = newWnd, seq, ack
		snd.maxWnd = max(snd.maxWnd, newWnd)
		if opened {
			s.stopTimer(snd.persistTimer)
			snd.persistBackoff = 0
		}
	}
	return true
}

// enterRecovery starts a fast recovery episode, RFC 6582 §3.2 and RFC
// 6675 §5: one window reduction for what was in flight, the first
// retransmission at once.
func (c *Conn) enterRecovery() {
	s, snd := c.s, &c.snd
	snd.inRecovery = true
	snd.recover = snd.max
	snd.cc.onCongestion(s.now, int(snd.max-snd.una))
	snd.rexmitUna = true
	snd.rttTiming = false
	snd.undoRetrans, snd.undoValid = 0, true
	s.ctr.fastRetrans++
	if snd.ptoArmed {
		c.armRetransmit() // no loss probe during recovery: back to the RTO
	}
}

// rttSample folds one measurement into SRTT/RTTVAR, RFC 6298 §2.
func (c *Conn) rttSample(r time.Duration) {
	snd := &c.snd
	if r <= 0 {
		r = time.Microsecond
	}
	c.rackMinRTT(r)
	if !snd.hasRTT {
		snd.srtt, snd.rttvar, snd.hasRTT = r, r/2, true
	} else {
		d := snd.srtt - r
		if d < 0 {
			d = -d
		}
		snd.rttvar = (3*snd.rttvar + d) / 4
		snd.srtt = (7*snd.srtt + r) / 8
	}
	const granularity = time.Millisecond
	snd.rto = snd.srtt + max(granularity, 4*snd.rttvar)
	snd.rto = min(max(snd.rto, c.s.cfg.MinRTO), c.s.cfg.MaxRTO)
}

// onRTO is the retransmission timer, RFC 6298 §5.4-5.6.
func (c *Conn) onRTO() {
	s, snd := c.s, &c.snd
	switch c.state {
	case StateSynSent, StateSynReceived:
		snd.retries++
		if snd.retries > s.cfg.SynRetries {
			s.ctr.failedOpens++
			if c.listener != nil {
				c.destroy(nil)
			} else {
				c.destroy(ErrTimeout)
			}
			return
		}
		snd.rto = min(2*snd.rto, s.cfg.MaxRTO)
		c.sendSYN()
		return
	case StateClosed, StateTimeWait, StateFinWait2:
		return
	}
	if snd.una == snd.max {
		return
	}
	if snd.ptoArmed {
		snd.ptoArmed = false
		c.sendProbe()
		s.resetTimer(snd.rtoTimer, snd.rto)
		return
	}
	snd.tlpOutstanding = false
	snd.retries++
	if snd.retries > s.cfg.DataRetries {
		c.abort(ErrTimeout)
		return
	}
	s.ctr.rtoTimeouts++
	snd.cc.onRTO(int(snd.max - snd.una))
	snd.inRecovery, snd.dupAcks, snd.rexmitUna = false, 0, false
	snd.undoValid = false
	// RFC 2018 §8: after a timeout the receiver may have reneged on what
	// it SACKed, so start over from the cumulative ACK. Go-back-N resends
	// everything, so RACK has nothing left to time until it does.
	snd.sb.clear()
	s.stopTimer(snd.rackTimer)
	// RFC 6582 §3.2 step 2 (and §4.1): duplicate ACKs for data sent
	// before the timeout do not start a fast retransmit.
	snd.recover = snd.max
	snd.afterRTO = true
	snd.nxt = snd.una
	snd.rttTiming = false
	snd.rto = min(2*snd.rto, s.cfg.MaxRTO)
	if snd.wnd == 0 && seqGEQ(snd.una, snd.bufSeq) && int(snd.una-snd.bufSeq) < snd.buf.len() {
		// The peer closed its window while data was in flight: the
		// window forbids a retransmission, so probe with one byte
		// (as the persist timer would) to learn when it reopens.
		s.ctr.zeroWindowProbes++
		c.transmitData(snd.una, 1, false)
		snd.probed = true
	}
	c.sendData()
	if !snd.rtoTimer.armed() {
		s.resetTimer(snd.rtoTimer, snd.rto)
	}
}

// onPersist sends a zero-window probe: one byte beyond the window, which
// the peer either accepts (the window had opened) or answers with an ACK
// carrying its current window.
func (c *Conn) onPersist() {
	s, snd := c.s, &c.snd
	if snd.buf.len() == 0 || snd.una != snd.nxt {
		return
	}
	if snd.wnd != 0 {
		snd.override = true
		c.sendData()
		snd.override = false
		return
	}
	s.ctr.zeroWindowProbes++
	if seqGEQ(snd.nxt, snd.bufSeq) && int(snd.nxt-snd.bufSeq) < snd.buf.len() {
		c.sendSegment(snd.nxt, FlagACK, int(snd.nxt-snd.bufSeq), 1)
		snd.probed = true
	}
	snd.persistBackoff = min(2*max(snd.persistBackoff, snd.rto), s.cfg.MaxRTO)
	s.resetTimer(snd.persistTimer, snd.persistBackoff)
}

// onDSACK handles a D-SACK block: a segment arrived twice, so (barring
// network duplication) a retransmission was unnecessary.
func (c *Conn) onDSACK() {
	snd := &c.snd
	c.s.ctr.dsacksRecv++
	if snd.undoValid && snd.undoRetrans > 0 {
		snd.undoRetrans--
		if snd.undoRetrans == 0 {
			snd.undoValid = false
			snd.cc.undo()
			c.s.ctr.spuriousUndo++
			if snd.inRecovery {
				snd.inRecovery = false
				snd.dupAcks = 0
			}
		}
	}
}
