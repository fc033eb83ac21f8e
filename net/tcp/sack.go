package tcp

import "sort"

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

// dupThresh is RFC 6675's DupThresh, the starting point of the adaptive
// threshold (sender.reorder).
const dupThresh = 3

// maxReorder bounds the adaptive threshold, as Linux's tcp_max_reordering.
const maxReorder = 300

// scoreboard holds the SACKed ranges above SND.UNA, sorted and disjoint.
type scoreboard struct {
	blocks []SACKBlock
}

// add merges b, ignoring blocks outside (una, max]; it reports whether
// any byte was newly SACKed.
func (sb *scoreboard) add(b SACKBlock, una, max uint32) bool {
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

func (sb *scoreboard) clear() { sb.blocks = sb.blocks[:0] }

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

// unsackedBetween counts bytes in [from, to) not SACKed.
func (sb *scoreboard) unsackedBetween(from, to uint32) int {
	if !seqLT(from, to) {
		return 0
	}
	return int(to-from) - int(sb.sackedBetween(from, to))
}

// lossEdge returns the sequence number below which every unSACKed byte is
// lost by RFC 6675's IsLost: more than (DupThresh-1)*SMSS bytes, or
// DupThresh discontiguous ranges, SACKed above it. With no such point it
// returns una.
func (sb *scoreboard) lossEdge(una uint32, smss, dupThresh int) uint32 {
	edge := una
	need := uint32((dupThresh - 1) * smss)
	var acc uint32
	for i := len(sb.blocks) - 1; i >= 0; i-- {
		b := sb.blocks[i]
		sz := b.End - b.Start
		if acc+sz > need {
			edge = seqMax(edge, b.End-(need-acc))
			break
		}
		acc += sz
	}
	if n := len(sb.blocks); n >= dupThresh {
		edge = seqMax(edge, sb.blocks[n-dupThresh].Start)
	}
	return edge
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
