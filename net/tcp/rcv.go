package tcp

import "sort"

// The receive side: in-order data waits in buf for Read; segments beyond a
// gap wait in ooo until the gap fills. The right edge of the window we
// advertise (advEdge) never moves left (RFC 9293 §3.8.6), and moves right
// only in steps worth announcing (receiver SWS avoidance, §3.8.6.2.2).
type receiver struct {
	buf  ring
	size int // nominal buffer, the most we advertise
	mss  int // our MSS, for SWS and delayed-ACK decisions

	irs, nxt uint32
	shift    uint8  // our window scale
	advEdge  uint32 // RCV.NXT + RCV.WND as last advertised

	ooo      []oooSeg
	oooBytes int
	lastOOO  uint32    // start of the latest out-of-order arrival, for SACK order
	dsack    SACKBlock // duplicate range to report first (RFC 2883), if hasDSACK
	hasDSACK bool

	finPending bool // FIN seen beyond a gap
	finSeq     uint32
	finDone    bool // FIN consumed

	ackNow      bool // an ACK must go out with the next output
	ackPending  int  // segments received since the last ACK
	delackTimer *timer

	tsRecent    uint32 // RFC 7323 TS.Recent
	lastAckSent uint32 // RFC 7323 Last.ACK.sent
}

type oooSeg struct {
	seq  uint32
	data []byte
}

// slack is how far below RCV.NXT a bare ACK may be: the window we offer.
func (r *receiver) slack() uint32 { return uint32(r.size) }

// window returns RCV.WND, the space we promised.
func (r *receiver) window() uint32 { return r.advEdge - r.nxt }

// windowField computes the window to put in an outgoing segment and
// records the right edge it announces. SYN windows are never scaled (RFC
// 7323 §2.2). The scaled value is rounded up so the edge never recedes;
// the ring keeps 1<<maxWScale bytes of slack for that.
func (r *receiver) windowField(syn bool) uint16 {
	free := max(0, r.size-r.buf.len())
	edge := r.nxt + uint32(free)
	if seqGT(edge, r.advEdge) {
		if inc := int(edge - r.advEdge); inc >= min(r.size/2, r.mss) || r.window() == 0 && free >= r.mss || syn {
			r.advEdge = edge
		}
	}
	if seqLT(r.advEdge, r.nxt) {
		r.advEdge = r.nxt
	}
	wnd := r.window()
	if syn {
		w := min(wnd, 0xffff)
		r.advEdge = r.nxt + w
		return uint16(w)
	}
	field := min((wnd+(1<<r.shift)-1)>>r.shift, 0xffff)
	r.advEdge = r.nxt + field<<r.shift
	return uint16(field)
}

// receive accepts data (already trimmed to the window) at seq and reports
// whether the FIN was consumed.
func (c *Conn) receive(seq uint32, data []byte, fin bool) bool {
	r := &c.rcv
	if seq != r.nxt {
		if len(data) > 0 {
			r.insertOOO(seq, data)
		}
		if fin {
			r.finPending, r.finSeq = true, seq+uint32(len(data))
		}
		if len(data) > 0 || fin {
			// A duplicate ACK (with SACK) tells the sender. A bare
			// ACK is not answered: two ends each waiting on a hole
			// would ACK each other's ACKs until the holes filled.
			r.ackNow = true
		}
		return false
	}
	wrote := 0
	if len(data) > 0 {
		n := r.buf.write(data)
		r.nxt += uint32(n)
		wrote += n
		if n < len(data) {
			fin = false
		}
	}
	if len(r.ooo) > 0 {
		wrote += r.drainOOO()
		r.ackNow = true // a hole was filled: ACK at once (RFC 5681 §4.2)
	}
	if wrote > 0 {
		c.raise(EventReadable)
	}
	consumed := false
	if fin && seq+uint32(len(data)) == r.nxt || r.finPending && r.finSeq == r.nxt {
		r.nxt++
		r.finDone, r.finPending = true, false
		r.ackNow = true
		consumed = true
		c.raise(EventReadable)
	}
	if !r.ackNow && wrote > 0 {
		r.ackPending++
		// Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2): at least every
		// second full-sized segment, and within DelayedACK otherwise.
		if r.ackPending >= 2 {
			r.ackNow = true
		} else if !r.delackTimer.armed() {
			c.s.resetTimer(r.delackTimer, c.s.cfg.DelayedACK)
		}
	}
	return consumed
}

func (r *receiver) insertOOO(seq uint32, data []byte) {
	r.lastOOO = seq
	i := sort.Search(len(r.ooo), func(i int) bool { return seqGEQ(r.ooo[i].seq, seq) })
	if i < len(r.ooo) && r.ooo[i].seq == seq && len(r.ooo[i].data) >= len(data) {
		// A duplicate above a gap: report it (RFC 2883 §4.2, the
		// block holding it follows, as lastOOO now points into it).
		r.dsack = SACKBlock{seq, seq + uint32(len(data))}
		r.hasDSACK = true
		return
	}
	if r.oooBytes+len(data) > r.size {
		// Overlapping segments could otherwise store the same window
		// many times over; the sender will retransmit what we drop.
		return
	}
	cp := make([]byte, len(data))
	copy(cp, data)
	r.ooo = append(r.ooo, oooSeg{})
	copy(r.ooo[i+1:], r.ooo[i:])
	r.ooo[i] = oooSeg{seq, cp}
	r.oooBytes += len(cp)
}

// drainOOO moves queued segments that now follow RCV.NXT into buf.
func (r *receiver) drainOOO() int {
	wrote, i := 0, 0
	for ; i < len(r.ooo) && seqLEQ(r.ooo[i].seq, r.nxt); i++ {
		e := r.ooo[i]
		r.oooBytes -= len(e.data)
		end := e.seq + uint32(len(e.data))
		if seqGT(end, r.nxt) {
			n := r.buf.write(e.data[r.nxt-e.seq:])
			r.nxt += uint32(n)
			wrote += n
		}
	}
	r.ooo = append(r.ooo[:0], r.ooo[i:]...)
	return wrote
}

// onDelayedACK is the delayed-ACK timer.
func (c *Conn) onDelayedACK() {
	if c.rcv.ackPending > 0 && c.state != StateClosed {
		c.s.ctr.delayedACKs++
		c.rcv.ackNow = true
		c.output()
	}
}

// maybeWindowUpdate sends a window update after Read when the window had
// closed to less than half the buffer and has opened by at least an MSS,
// so a sender stalled on a small window resumes.
func (c *Conn) maybeWindowUpdate() {
	r := &c.rcv
	if !c.state.synchronized() || r.finDone {
		return
	}
	free := max(0, r.size-r.buf.len())
	edge := r.nxt + uint32(free)
	if int(r.window()) < r.size/2 && seqGT(edge, r.advEdge) && int(edge-r.advEdge) >= min(r.size/2, r.mss) {
		r.ackNow = true
		c.output()
	}
}
