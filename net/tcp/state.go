package tcp

import "time"

// State is a connection state of RFC 9293 §3.3.2. LISTEN belongs to
// Listener; a Conn is in one of the others.
type State uint8

const (
	StateClosed State = iota
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
	numStates
)

var stateNames = [numStates]string{
	StateClosed:      "CLOSED",
	StateListen:      "LISTEN",
	StateSynSent:     "SYN-SENT",
	StateSynReceived: "SYN-RECEIVED",
	StateEstablished: "ESTABLISHED",
	StateFinWait1:    "FIN-WAIT-1",
	StateFinWait2:    "FIN-WAIT-2",
	StateCloseWait:   "CLOSE-WAIT",
	StateClosing:     "CLOSING",
	StateLastAck:     "LAST-ACK",
	StateTimeWait:    "TIME-WAIT",
}

func (st State) String() string {
	if st < numStates {
		return stateNames[st]
	}
	return "UNKNOWN"
}

// synchronized reports whether st is one of the states of RFC 9293
// §3.10.7.4 in which both sides' sequence numbers are known.
func (st State) synchronized() bool {
	return st >= StateEstablished
}

// canSend reports whether the user may still queue data in st.
func (st State) canSend() bool {
	return st == StateEstablished || st == StateCloseWait || st == StateSynSent || st == StateSynReceived
}

// finReceived reports whether the peer's FIN has been consumed in st.
func (st State) finReceived() bool {
	switch st {
	case StateCloseWait, StateClosing, StateLastAck, StateTimeWait:
		return true
	}
	return false
}

// oowAckInterval limits ACKs sent in reply to unacceptable bare segments.
const oowAckInterval = 500 * time.Millisecond

// segmentArrives is RFC 9293 §3.10.7.3 (SYN-SENT) and §3.10.7.4 (the
// other states), with the checks of RFC 5961 and RFC 7323 (PAWS) folded in.
func (c *Conn) segmentArrives(h Header, o *Options) {
	if c.state == StateSynSent {
		c.synSentArrives(h, o)
		return
	}
	s, r := c.s, &c.rcv
	flags := h.Flags()
	seq := h.Seq()
	payload := h.Payload()
	segLen := uint32(len(payload))
	if flags&FlagSYN != 0 {
		segLen++
	}
	if flags&FlagFIN != 0 {
		segLen++
	}

	// A retransmitted SYN while we are SYN-RECEIVED: our SYN-ACK was lost.
	if c.state == StateSynReceived && flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN && seq == r.irs {
		c.sendSYN()
		return
	}

	// Simultaneous open: the peer's SYN-ACK answers our SYN and repeats
	// its own SYN, which we already hold; take it as a bare ACK.
	if c.state == StateSynReceived && flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN|FlagACK && seq == r.irs {
		flags &^= FlagSYN
		seq++
		segLen--
	}

	// PAWS, RFC 7323 §5.3: an older timestamp marks an old duplicate.
	// Like Linux we allow one tick of slack, so that segments reordered
	// behind a retransmission sent a millisecond later are not dropped.
	const pawsWindow = 1
	if c.tsOK && o.HasTS && flags&FlagRST == 0 && seqLT(o.TSVal+pawsWindow, r.tsRecent) {
		s.ctr.drops[dropPAWS]++
		if segLen > 0 || s.now.Sub(c.lastOOWAck) >= oowAckInterval {
			c.lastOOWAck = s.now
			c.sendACK()
		}
		return
	}

	// First: is the sequence number acceptable?
	wnd := r.window()
	var ok bool
	switch {
	case segLen == 0 && flags&FlagRST == 0:
		// A bare ACK overtaken by data sent after it (reordering) is
		// old but harmless: it carries no data, its ACK field passes
		// the RFC 5961 range check below and an old sequence number
		// cannot move the send window (WL1/WL2). Rejecting it would
		// lose the ACK and answer it with an ACK the peer counts as a
		// duplicate. So, like Linux (which checks against RCV.WUP), a
		// window's worth of slack below RCV.NXT.
		// RSTs get no slack (RFC 5961 §3).
		ok = inWindow(seq, r.nxt-r.slack(), r.slack()+max(wnd, 1))
	case wnd == 0:
		ok = seq == r.nxt
	case segLen == 0:
		ok = inWindow(seq, r.nxt, wnd)
	case wnd == 0:
		ok = false
	default:
		ok = inWindow(seq, r.nxt, wnd) || inWindow(seq+segLen-1, r.nxt, wnd)
	}
	if !ok {
		s.ctr.drops[dropOutOfWindow]++
		if n := uint32(len(payload)); n > 0 && c.sackOK && seqLT(seq, r.nxt) {
			r.dsack = SACKBlock{seq, seqMin(seq+n, r.nxt)}
			r.hasDSACK = true
		}
		if flags&FlagRST == 0 && (segLen > 0 || s.now.Sub(c.lastOOWAck) >= oowAckInterval) {
			// Bare segments are answered at most every
			// oowAckInterval (Linux's tcp_invalid_ratelimit), so
			// two stacks cannot ping-pong ACKs.
			c.lastOOWAck = s.now
			c.sendACK()
		}
		return
	}
	c.lastRecv = s.now
	c.keepSent = 0
	if segLen == 0 && seq == r.nxt-1 && flags&FlagRST == 0 {
		// A keepalive or (Linux-style) zero-window probe: SEG.SEQ =
		// RCV.NXT-1 asks for an ACK (RFC 9293 §3.8.4). Accepted by the
		// slack above, so answer it explicitly.
		r.ackNow = true
	}

	// Second: RST, validated per RFC 5961 §3.2.
	if flags&FlagRST != 0 {
		s.ctr.rstRecv++
		if seq != r.nxt {
			s.ctr.drops[dropRSTInvalid]++
			c.challengeACK()
			return
		}
		switch c.state {
		case StateSynReceived:
			if c.listener != nil {
				c.destroy(nil) // back to LISTEN: the listener carries on
			} else {
				c.destroy(ErrConnRefused)
			}
		case StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
			c.destroy(ErrConnReset)
		case StateTimeWait:
			// RFC 1337: ignore, and let TIME-WAIT run its course.
		default:
			c.destroy(nil)
		}
		return
	}

	// Fourth: a SYN in a synchronized state, RFC 5961 §4.2.
	if flags&FlagSYN != 0 {
		s.ctr.drops[dropSYNInvalid]++
		c.challengeACK()
		return
	}

	// Fifth: the ACK field.
	if flags&FlagACK == 0 {
		s.ctr.drops[dropNoFlags]++
		return
	}
	if c.state == StateSynReceived {
		ack := h.Ack()
		if !seqLT(c.snd.una, ack) || seqGT(ack, c.snd.max) {
			c.s.sendControl(c.key(), ack, 0, FlagRST, 0)
			return
		}
		if !c.establish(h) {
			return
		}
	}
	// TS.Recent, RFC 7323 §4.3.
	if c.tsOK && o.HasTS && seqGEQ(o.TSVal, r.tsRecent) && seqLEQ(seq, r.lastAckSent) {
		r.tsRecent = o.TSVal
	}
	if !c.processAck(h, o, len(payload)) {
		return
	}
	finAcked := c.snd.finQueued && seqGT(c.snd.una, c.snd.finSeq)
	switch c.state {
	case StateFinWait1:
		if finAcked {
			c.state = StateFinWait2
			if c.userClosed {
				s.resetTimer(c.lifeTimer, s.cfg.FinWait2Timeout)
			}
		}
	case StateClosing:
		if finAcked {
			c.enterTimeWait()
		}
	case StateLastAck:
		if finAcked {
			c.destroy(nil)
			return
		}
	}

	// Seventh: segment text, and eighth: FIN.
	fin := flags&FlagFIN != 0
	switch c.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
		hadData := len(payload) > 0
		if seqLT(seq, r.nxt) {
			skip := r.nxt - seq
			if hadData && c.sackOK {
				r.dsack = SACKBlock{seq, seq + min(skip, uint32(len(payload)))}
				r.hasDSACK = true
			}
			if skip >= uint32(len(payload)) {
				if fin && skip > uint32(len(payload)) {
					fin = false // FIN already consumed
				}
				payload = nil
			} else {
				payload = payload[skip:]
			}
			seq = r.nxt
		}
		if end := seq + uint32(len(payload)); seqGT(end, r.advEdge) {
			payload = payload[:r.advEdge-seq]
			fin = false
		}
		if c.userClosed && len(payload) > 0 {
			// Nobody will read it: tell the peer (as Linux does for
			// data on an orphaned socket).
			s.ctr.drops[dropAfterClose]++
			c.abort(nil)
			return
		}
		if hadData && len(payload) == 0 && !fin {
			r.ackNow = true // duplicate data: ACK so the sender learns
		}
		if c.receive(seq, payload, fin) {
			switch c.state {
			case StateEstablished:
				c.state = StateCloseWait
			case StateFinWait1:
				c.state = StateClosing
			case StateFinWait2:
				c.enterTimeWait()
			}
		}
	case StateCloseWait, StateClosing, StateLastAck:
		if fin || len(payload) > 0 {
			r.ackNow = true // retransmitted FIN: ACK it again
		}
	case StateTimeWait:
		if fin {
			r.ackNow = true
			s.resetTimer(c.lifeTimer, 2*s.cfg.MSL)
		}
	}
	if c.keepalive && c.state.synchronized() && c.state != StateTimeWait {
		s.resetTimer(c.keepaliveTimer, c.keepIdle)
	}
	c.output()
}

// establish completes a handshake from SYN-RECEIVED on an acceptable ACK.
// A passive connection goes to its listener's accept queue; if that is
// full the ACK is dropped and the peer's retransmission will try again.
func (c *Conn) establish(h Header) bool {
	if l := c.listener; l != nil {
		if len(l.acceptQ) >= l.backlog || l.closed {
			c.s.ctr.drops[dropListenOverflow]++
			return false
		}
		l.halfOpenDone(c)
		l.enqueue(c)
	}
	c.state = StateEstablished
	c.snd.wnd = uint32(h.Window()) << c.snd.shift
	c.snd.maxWnd = c.snd.wnd
	c.snd.wl1, c.snd.wl2 = h.Seq(), h.Ack()
	c.raise(EventConnected | EventWritable)
	return true
}

// synSentArrives is RFC 9293 §3.10.7.3.
func (c *Conn) synSentArrives(h Header, o *Options) {
	s := c.s
	flags := h.Flags()
	ack := h.Ack()
	if flags&FlagACK != 0 && (seqLEQ(ack, c.iss) || seqGT(ack, c.snd.max)) {
		if flags&FlagRST == 0 {
			s.sendControl(c.key(), ack, 0, FlagRST, 0)
		}
		s.ctr.drops[dropBadAck]++
		return
	}
	if flags&FlagRST != 0 {
		s.ctr.rstRecv++
		if flags&FlagACK != 0 {
			s.ctr.failedOpens++
			c.destroy(ErrConnRefused)
		}
		return
	}
	if flags&FlagSYN == 0 {
		s.ctr.drops[dropNoFlags]++
		return
	}
	r := &c.rcv
	r.irs = h.Seq()
	r.nxt = r.irs + 1
	r.advEdge = r.nxt + uint32(min(r.size, 0xffff))
	c.applySynOptions(o)
	c.lastRecv = s.now
	if flags&FlagACK == 0 {
		// Simultaneous open (RFC 9293 Figure 8).
		c.state = StateSynReceived
		c.snd.max = c.iss // resend as a first transmission of the SYN-ACK
		c.sendSYN()
		return
	}
	c.snd.una = ack
	if c.snd.rttTiming && seqGEQ(ack, c.snd.rttSeq) {
		c.snd.rttTiming = false
		c.rttSample(s.now.Sub(c.snd.rttTime))
	}
	c.snd.retries = 0
	s.stopTimer(c.snd.rtoTimer)
	c.state = StateEstablished
	c.snd.wnd = uint32(h.Window()) // never scaled in a SYN (RFC 7323 §2.2)
	c.snd.maxWnd = c.snd.wnd
	c.snd.wl1, c.snd.wl2 = h.Seq(), ack
	c.raise(EventConnected | EventWritable)
	r.ackNow = true
	if p := h.Payload(); len(p) > 0 || flags&FlagFIN != 0 {
		if c.receive(r.nxt, p[:min(len(p), int(r.window()))], flags&FlagFIN != 0) {
			c.state = StateCloseWait
		}
	}
	if c.keepalive {
		s.resetTimer(c.keepaliveTimer, c.keepIdle)
	}
	c.output()
}

// applySynOptions records what the peer's SYN offered (RFC 7323 §2.2,
// §3.2; RFC 2018 §2; RFC 9293 §3.7.1). Options switched off in Config
// stay off whatever the peer offers; window scaling is used only if both
// SYNs carry it.
func (c *Conn) applySynOptions(o *Options) {
	s := c.s
	c.snd.mss = 536
	if o.HasMSS && o.MSS > 0 {
		c.snd.mss = int(o.MSS)
	}
	c.snd.mss = max(min(c.snd.mss, s.mss()), 64)
	cfg := &s.cfg
	if o.HasWScale && !cfg.NoWindowScale {
		c.wsOK = true
		c.snd.shift = o.WScale
		c.rcv.shift = c.ourWScale()
	} else {
		c.wsOK = false
		c.snd.shift, c.rcv.shift = 0, 0
	}
	c.sackOK = o.SACKPerm && !cfg.NoSACK
	c.tsOK = o.HasTS && !cfg.NoTimestamps
	if c.tsOK {
		c.rcv.tsRecent = o.TSVal
	}
	c.snd.cc.setMSS(c.smss())
	c.snd.cc.setABCLimit(c.abcLimit())
}
