package tcp

import (
	"slices"
	"sort"
	"time"
)

// SACK, RFC 2018 (blocks we send, from the out-of-order queue) and RFC 6675
// (the sender's scoreboard of what the peer holds above SND.UNA).

// numSACKRanges counts the contiguous ranges in the out-of-order queue.
func (r *receiver) numSACKRanges() int {
	n := 0
	var end uint32
	for i, e := range r.ooo {
		if i == 0 || seqGT(e.seq, end) {
			n++
		}
		if i == 0 || seqGT(e.seq+uint32(len(e.data)), end) {
			end = e.seq + uint32(len(e.data))
		}
	}
	return n
}

// sackBlocks fills o with the out-of-order ranges, the one holding the
// latest arrival first (RFC 2018 §4), then the others from the highest down.
func (r *receiver) sackBlocks(o *Options) {
	var ranges [16]SACKBlock
	k := 0
	for i, e := range r.ooo {
		end := e.seq + uint32(len(e.data))
		if i > 0 && seqLEQ(e.seq, ranges[k-1].End) {
			ranges[k-1].End = seqMax(ranges[k-1].End, end)
			continue
		}
		if k == len(ranges) {
			break
		}
		ranges[k] = SACKBlock{e.seq, end}
		k++
	}
	limit := maxSACKBlocks
	if o.HasTS {
		limit = 3
	}
	o.NumSACK = 0
	if r.hasDSACK {
		// D-SACK (RFC 2883 §4): the duplicate first, once.
		o.SACK[0] = r.dsack
		o.NumSACK = 1
		r.hasDSACK = false
	}
	first := -1
	for i := 0; i < k; i++ {
		if seqLEQ(ranges[i].Start, r.lastOOO) && seqLT(r.lastOOO, ranges[i].End) {
			first = i
			o.SACK[o.NumSACK] = ranges[i]
			o.NumSACK++
		}
	}
	for i := k - 1; i >= 0 && o.NumSACK < limit; i-- {
		if i != first {
			o.SACK[o.NumSACK] = ranges[i]
			o.NumSACK++
		}
	}
}

// dupThresh is RFC 6675's DupThresh: the duplicate ACKs that start a
// NewReno fast retransmit, and, for RACK (rack.go), the SACKed segments
// past which a loss is presumed rather than reordering.
const dupThresh = 3

// scoreboard is the sender's record of what it has in flight above
// SND.UNA: the ranges the peer SACKed (blocks), and, on connections that
// negotiated SACK, each transmission not yet cumulatively acknowledged
// (segs) with when it last went out and whether RACK deemed it lost.
type scoreboard struct {
	blocks []SACKBlock // sorted and disjoint

	segs      []txSeg // sorted and disjoint; gaps are SACKed ranges skipped after a rewind
	lostBytes int     // in segs marked lost and not retransmitted since
}

// txSeg is one transmission of a range of sequence space (data, and the
// FIN). A range SACKed or retransmitted in part is split, so that each
// txSeg is SACKed, lost and timed as a whole.
type txSeg struct {
	start, end uint32
	xmit       time.Time // last (re)transmission
	retrans    bool      // sent more than once
	sacked     bool
	lost       bool // RACK deemed it lost; cleared when retransmitted
}

// add merges b, ignoring blocks outside (una, max]; it reports whether
// any byte was newly SACKed, and passes each transmission that b newly
// covers to delivered.
func (sb *scoreboard) add(b SACKBlock, una, max uint32, delivered func(*txSeg)) bool {
	if !seqLT(b.Start, b.End) || seqGT(b.End, max) || seqLEQ(b.End, una) {
		return false // invalid, or a D-SACK below una (RFC 2883)
	}
	if seqLT(b.Start, una) {
		b.Start = una
	}
	before := sb.sackedBetween(b.Start, b.End)
	if before == b.End-b.Start {
		return false
	}
	sb.sackSegs(b.Start, b.End, delivered)
	i := sort.Search(len(sb.blocks), func(i int) bool { return seqGEQ(sb.blocks[i].End, b.Start) })
	j := i
	for j < len(sb.blocks) && seqLEQ(sb.blocks[j].Start, b.End) {
		b.Start = seqMin(b.Start, sb.blocks[j].Start)
		b.End = seqMax(b.End, sb.blocks[j].End)
		j++
	}
	sb.blocks = append(sb.blocks[:i], append([]SACKBlock{b}, sb.blocks[j:]...)...)
	return true
}

// trim forgets everything below una.
func (sb *scoreboard) trim(una uint32) {
	i := 0
	for i < len(sb.blocks) && seqLEQ(sb.blocks[i].End, una) {
		i++
	}
	sb.blocks = append(sb.blocks[:0], sb.blocks[i:]...)
	if len(sb.blocks) > 0 && seqLT(sb.blocks[0].Start, una) {
		sb.blocks[0].Start = una
	}
}

// clear forgets the SACKed ranges (the peer may renege after an RTO, RFC
// 2018 §8) and the transmissions, which go-back-N sends again.
func (sb *scoreboard) clear() {
	sb.blocks = sb.blocks[:0]
	sb.forgetSent()
}

// forgetSent drops the transmission records.
func (sb *scoreboard) forgetSent() {
	sb.segs = sb.segs[:0]
	sb.lostBytes = 0
}

// segIndex returns the index of the first transmission ending above seq.
func (sb *scoreboard) segIndex(seq uint32) int {
	return sort.Search(len(sb.segs), func(i int) bool { return seqGT(sb.segs[i].end, seq) })
}

// split cuts the transmission holding seq, if seq falls inside one, in
// two at seq.
func (sb *scoreboard) split(seq uint32) {
	i := sb.segIndex(seq)
	if i == len(sb.segs) || !seqLT(sb.segs[i].start, seq) {
		return
	}
	hi := sb.segs[i]
	hi.start = seq
	sb.segs[i].end = seq
	sb.segs = slices.Insert(sb.segs, i+1, hi)
}

// sent records a transmission of [start, end) at now.
func (sb *scoreboard) sent(start, end uint32, now time.Time, retrans bool) {
	if !seqLT(start, end) {
		return
	}
	if n := len(sb.segs); n == 0 || seqGEQ(start, sb.segs[n-1].end) {
		sb.segs = append(sb.segs, txSeg{start: start, end: end, xmit: now, retrans: retrans})
		return
	}
	// A retransmission: restamp what it covers, and record the parts
	// that had no record (SACKed ranges forgotten by an RTO).
	sb.split(start)
	sb.split(end)
	pos := start
	i := sb.segIndex(start)
	for ; i < len(sb.segs) && seqLT(sb.segs[i].start, end); i++ {
		if g := &sb.segs[i]; seqLT(pos, g.start) {
			sb.segs = slices.Insert(sb.segs, i, txSeg{start: pos, end: g.start, xmit: now, retrans: true})
			i++
		}
		g := &sb.segs[i]
		if g.lost {
			g.lost = false
			sb.lostBytes -= int(g.end - g.start)
		}
		g.xmit, g.retrans = now, true
		pos = g.end
	}
	if seqLT(pos, end) {
		sb.segs = slices.Insert(sb.segs, i, txSeg{start: pos, end: end, xmit: now, retrans: true})
	}
}

// sackSegs marks the transmissions in [start, end) SACKed, passing each
// newly SACKed one to delivered.
func (sb *scoreboard) sackSegs(start, end uint32, delivered func(*txSeg)) {
	if len(sb.segs) == 0 {
		return
	}
	sb.split(start)
	sb.split(end)
	for i := sb.segIndex(start); i < len(sb.segs) && seqLEQ(sb.segs[i].end, end); i++ {
		g := &sb.segs[i]
		if g.sacked {
			continue
		}
		g.sacked = true
		if g.lost {
			g.lost = false // only delayed, or repaired by an earlier retransmission
			sb.lostBytes -= int(g.end - g.start)
		}
		delivered(g)
	}
}

// ackSegs drops the transmissions below una, passing those not SACKed
// before to delivered.
func (sb *scoreboard) ackSegs(una uint32, delivered func(*txSeg)) {
	if len(sb.segs) == 0 {
		return
	}
	sb.split(una)
	i := 0
	for ; i < len(sb.segs) && seqLEQ(sb.segs[i].end, una); i++ {
		g := &sb.segs[i]
		if g.lost {
			sb.lostBytes -= int(g.end - g.start)
		}
		if !g.sacked {
			delivered(g)
		}
	}
	sb.segs = sb.segs[i:]
}

// markLost marks segs[i] lost.
func (sb *scoreboard) markLost(i int) {
	if g := &sb.segs[i]; !g.lost && !g.sacked {
		g.lost = true
		sb.lostBytes += int(g.end - g.start)
	}
}

// sackedBetween counts SACKed bytes in [from, to).
func (sb *scoreboard) sackedBetween(from, to uint32) uint32 {
	var n uint32
	for _, b := range sb.blocks {
		s, e := seqMax(b.Start, from), seqMin(b.End, to)
		if seqLT(s, e) {
			n += e - s
		}
	}
	return n
}

// covering returns the end of the block holding seq, if any.
func (sb *scoreboard) covering(seq uint32) (uint32, bool) {
	for _, b := range sb.blocks {
		if seqLEQ(b.Start, seq) && seqLT(seq, b.End) {
			return b.End, true
		}
	}
	return 0, false
}

// nextStart returns the start of the first block above seq.
func (sb *scoreboard) nextStart(seq uint32) (uint32, bool) {
	for _, b := range sb.blocks {
		if seqGT(b.Start, seq) {
			return b.Start, true
		}
	}
	return 0, false
}
