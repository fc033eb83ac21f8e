// LZ4 compression by optimal parsing: the image is compressed once and
// decompressed on every boot, so the compressor spends host time (a few
// seconds for a kernel) to make the block small.
//
// Matches come from hash chains (matchfinder below): every position of the
// input is indexed by a hash of its first four bytes, and a chain links
// positions with the same hash up to 64 KiB back, the format's window. In
// LZ4 every offset costs the same two bytes, so at each position only the
// longest match matters: any shorter length is a prefix of it.
//
// The parse is a shortest path over positions (cost = encoded bytes): from
// position i a literal leads to i+1 and the longest match (or any prefix of
// it of at least minMatch bytes) to i+L. Literal costs count the token's
// extension bytes as the run grows, so each position also remembers the
// length of the literal run that reached it. Matches of at least niceLen
// bytes are taken without considering the positions they cover, which keeps
// long runs (zeroed tables, padding) linear.

package pack

import "math"

const (
	hashLog = 17
	// niceLen is the match length beyond which the parser stops looking
	// for alternatives; chosen so runs cost no more than a few searches.
	niceLen = 1024
)

// CompressOptions tune Compress.
type CompressOptions struct {
	// Depth is how many earlier positions the match finder examines at
	// each position (default 256). More finds longer matches, slower.
	Depth int
	// SeqPenalty is added to the cost of every match, in 1/16 of a byte
	// (costUnit): the stub's time under TCG goes per sequence more than
	// per byte, so the parser prefers fewer sequences among parses of
	// (nearly) the same size. 0 means DefaultSeqPenalty, negative none.
	SeqPenalty int
}

// DefaultSeqPenalty: half a byte per sequence. On our kernel it removes 5%
// of the sequences for 0.006% more bytes; larger values cost size quickly
// (4 bytes per sequence: 22% fewer sequences, 3% more bytes).
const DefaultSeqPenalty = 8

// costUnit is one byte of output in the parser's costs.
const costUnit = 16

// DefaultDepth is the chain depth when CompressOptions.Depth is 0.
const DefaultDepth = 256

// Compress returns src as one LZ4 block. An empty src gives a block of
// one token with no literals, which Decode turns back into nothing.
func Compress(src []byte, opt CompressOptions) []byte {
	depth := opt.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	n := len(src)
	penalty := opt.SeqPenalty
	if penalty == 0 {
		penalty = DefaultSeqPenalty
	}
	seqs := parse(src, depth, int32(max(penalty, 0)))
	out := make([]byte, 0, n+n/255+16)
	anchor := 0
	for _, s := range seqs {
		out = appendSequence(out, src[anchor:s.pos], s.length, s.offset)
		anchor = s.pos + s.length
	}
	// last sequence: literals only
	return appendLiterals(out, src[anchor:], 0)
}

// sequence is a match of length bytes at pos, copied from pos-offset.
type sequence struct {
	pos, length, offset int
}

// parse chooses the cheapest sequence of literals and matches.
func parse(src []byte, depth int, penalty int32) []sequence {
	n := len(src)
	if n < matchLimit+1 {
		return nil
	}
	mf := newMatchFinder(src, depth)
	// Per position: the cheapest cost to encode src[:i], the step that
	// reached it (0: a literal; else a match of that length) and its
	// offset, and the literal run ending there.
	cost := make([]int32, n+1)
	step := make([]int32, n+1)
	off := make([]uint16, n+1)
	run := make([]int32, n+1)
	for i := 1; i <= n; i++ {
		cost[i] = math.MaxInt32
	}
	// Matches may start before matchEnd and must end by n-lastLits.
	matchEnd := n - matchLimit
	for i := 0; i < n; i++ {
		// literal i -> i+1
		r := run[i] + 1
		if c := cost[i] + costUnit*(1+litExtra(r)); c < cost[i+1] {
			cost[i+1], step[i+1], run[i+1] = c, 0, r
		}
		if i >= matchEnd {
			continue
		}
		length, offset := mf.find(i, n-lastLits-i)
		if length < minMatch {
			continue
		}
		if length >= niceLen {
			// take it whole; index the covered positions only
			if c := cost[i] + costUnit*matchCost(length) + penalty; c < cost[i+length] {
				cost[i+length], step[i+length], off[i+length], run[i+length] = c, int32(length), uint16(offset), 0
			}
			for k := i + 1; k < i+length; k++ {
				if k < matchEnd {
					mf.insert(k)
				}
			}
			i += length - 1
			continue
		}
		for l := minMatch; l <= length; l++ {
			if c := cost[i] + costUnit*matchCost(l) + penalty; c < cost[i+l] {
				cost[i+l], step[i+l], off[i+l], run[i+l] = c, int32(l), uint16(offset), 0
			}
		}
	}
	// walk back from the end
	var rev []sequence
	for i := n; i > 0; {
		if step[i] == 0 {
			i--
			continue
		}
		l := int(step[i])
		rev = append(rev, sequence{pos: i - l, length: l, offset: int(off[i])})
		i -= l
	}
	for a, b := 0, len(rev)-1; a < b; a, b = a+1, b-1 {
		rev[a], rev[b] = rev[b], rev[a]
	}
	return rev
}

// litExtra is the extra cost of the r-th literal of a run: one byte when
// the run's length starts needing a new extension byte.
func litExtra(r int32) int32 {
	if r == nibbleMax || (r > nibbleMax && (r-nibbleMax)%extByteMax == 0) {
		return 1
	}
	return 0
}

// matchCost is the bytes a match of length l adds: token, offset, length
// extension.
func matchCost(l int) int32 {
	return 1 + 2 + int32(lengthBytes(l-minMatch))
}

// lengthBytes is how many extension bytes a nibble-coded length v needs.
func lengthBytes(v int) int {
	if v < nibbleMax {
		return 0
	}
	return 1 + (v-nibbleMax)/extByteMax
}

// appendSequence encodes literals lits followed by a match.
func appendSequence(out, lits []byte, length, offset int) []byte {
	ml := length - minMatch
	out = appendLiterals(out, lits, min(ml, nibbleMax))
	out = append(out, byte(offset), byte(offset>>8))
	if ml >= nibbleMax {
		out = appendLength(out, ml-nibbleMax)
	}
	return out
}

// appendLiterals writes a token with match nibble mn, the literal length
// and the literals.
func appendLiterals(out, lits []byte, mn int) []byte {
	ln := len(lits)
	out = append(out, byte(min(ln, nibbleMax)<<tokenLitSft|mn))
	if ln >= nibbleMax {
		out = appendLength(out, ln-nibbleMax)
	}
	return append(out, lits...)
}

// appendLength writes v as extension bytes: 255s, then the remainder.
func appendLength(out []byte, v int) []byte {
	for v >= extByteMax {
		out = append(out, extByteMax)
		v -= extByteMax
	}
	return append(out, byte(v))
}

// matchFinder indexes positions by the hash of their first four bytes.
type matchFinder struct {
	src   []byte
	depth int
	head  []int32  // hash -> last position + 1 (0: none)
	chain []uint16 // position mod 64 KiB -> distance to the previous one with the same hash (0: none)
	next  int      // positions below next are indexed
}

func newMatchFinder(src []byte, depth int) *matchFinder {
	return &matchFinder{
		src:   src,
		depth: depth,
		head:  make([]int32, 1<<hashLog),
		chain: make([]uint16, 1<<16),
	}
}

func (m *matchFinder) hash(p int) uint32 {
	s := m.src[p : p+4]
	v := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
	return (v * 2654435761) >> (32 - hashLog)
}

// insert indexes every position up to and including p.
func (m *matchFinder) insert(p int) {
	for ; m.next <= p; m.next++ {
		h := m.hash(m.next)
		d := 0
		if prev := int(m.head[h]) - 1; prev >= 0 && m.next-prev <= maxOffset {
			d = m.next - prev
		}
		m.chain[m.next&0xffff] = uint16(d)
		m.head[h] = int32(m.next + 1)
	}
}

// find returns the longest match at p of at most limit bytes, and its
// offset; p is indexed first.
func (m *matchFinder) find(p, limit int) (length, offset int) {
	if p > 0 {
		m.insert(p - 1)
	}
	src := m.src
	cand := int(m.head[m.hash(p)]) - 1
	m.insert(p)
	best := 0
	for tries := m.depth; cand >= 0 && tries > 0; tries-- {
		if p-cand > maxOffset {
			break
		}
		if best < limit && src[cand+best] == src[p+best] {
			l := 0
			for l < limit && src[cand+l] == src[p+l] {
				l++
			}
			if l > best {
				best, offset = l, p-cand
				if l >= limit || l >= niceLen {
					break
				}
			}
		}
		d := int(m.chain[cand&0xffff])
		if d == 0 {
			break
		}
		cand -= d
	}
	if best < minMatch {
		return 0, 0
	}
	return best, offset
}
