package tcp

import "time"

// Tail loss probe, RFC 8985 §7. When the last segments of a flight are
// lost no duplicate ACKs come back, and only the RTO (200 ms or more)
// would recover them. Instead, about two round trips after the last
// transmission the sender sends one probe (new data if the windows allow,
// else the last segment again). The SACK it draws shows a segment sent
// after the missing ones delivered, so RACK (rack.go) marks them lost once
// its reordering window has passed and recovery repairs the tail (§7.3);
// if the probe itself was the only loss its ACK ends the episode. One
// probe per flight; the RTO still backs it up. As a simplification of
// §7.4 a probe that alone repaired a loss does not reduce cwnd.

const (
	// ptoMin is the PTO floor (Linux's TCP_TIMEOUT_MIN for TLP).
	ptoMin = 10 * time.Millisecond
	// wcDelAckT is RFC 8985's worst-case delayed-ACK allowance, added
	// when only one segment is in flight.
	wcDelAckT = 200 * time.Millisecond
)

// armRetransmit arms the retransmission timer for outstanding data: as
// the PTO when a probe is allowed, else as the RTO.
func (c *Conn) armRetransmit() {
	snd := &c.snd
	if c.sackOK && snd.hasRTT && !snd.inRecovery && !snd.tlpOutstanding && snd.retries == 0 &&
		(c.state == StateEstablished || c.state == StateCloseWait) {
		pto := max(2*snd.srtt, ptoMin)
		if int(snd.max-snd.una) <= c.smss() {
			pto += wcDelAckT
		}
		// Capped at the RTO, as Linux does: with a 200 ms RTO floor a
		// single-segment tail is probed when the RTO would have fired,
		// which recovers without collapsing cwnd.
		snd.ptoArmed = true
		c.s.resetTimer(snd.rtoTimer, min(pto, snd.rto))
		return
	}
	snd.ptoArmed = false
	c.s.resetTimer(snd.rtoTimer, snd.rto)
}

// sendProbe transmits the loss probe, RFC 8985 §7.3.
func (c *Conn) sendProbe() {
	snd := &c.snd
	seg := snd.mss - c.dataOptLen()
	dataEnd := snd.bufSeq + uint32(snd.buf.len())
	c.s.ctr.tlpProbes++
	snd.tlpOutstanding = true
	if winRoom := int(int32(snd.una + snd.wnd - snd.nxt)); seqLT(snd.nxt, dataEnd) && winRoom > 0 && snd.nxt == snd.max {
		n := min(seg, int(dataEnd-snd.nxt), winRoom)
		fin := snd.finQueued && snd.nxt+uint32(n) == snd.finSeq
		c.transmitData(snd.nxt, n, fin)
		snd.nxt += uint32(n)
		if fin {
			snd.nxt++
		}
		snd.max = seqMax(snd.max, snd.nxt)
		snd.tlpHighSeq = snd.max
		return
	}
	// Retransmit the highest segment sent.
	sentEnd := seqMin(snd.max, dataEnd)
	fin := snd.finQueued && snd.max == snd.finSeq+1
	start := sentEnd
	if seqLT(snd.una, sentEnd) && seqGEQ(sentEnd, snd.bufSeq) {
		start = sentEnd - uint32(min(seg, int(sentEnd-seqMax(snd.una, snd.bufSeq))))
	}
	if start != sentEnd || fin {
		c.transmitData(start, int(sentEnd-start), fin)
	}
	snd.tlpHighSeq = snd.max
}
