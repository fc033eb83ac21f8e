package ipv4

import (
	"net/netip"
	"sort"
	"time"
)

// Reassembly limits. RFC 791 suggests a 15 s initial timer; Linux uses
// 30 s, 4 MiB and 64 fragments per datagram. Bounding all three is what
// keeps a flood of crafted fragments from exhausting memory.
const (
	DefaultReassemblyTimeout = 30 * time.Second
	DefaultReassemblyMemory  = 4 << 20
	DefaultMaxFragments      = 64
	DefaultMaxDatagrams      = 256
	maxDatagram              = 65535
)

// ReassemblyStats counts outcomes of fragment processing.
type ReassemblyStats struct {
	Fragments, Reassembled, Timeouts, Overlaps, MemoryDrops, TooMany, Malformed uint64
}

type fragKey struct {
	src, dst netip.Addr
	id       uint16
	proto    uint8
}

type frag struct {
	off  int
	data []byte
}

type partial struct {
	frags    []frag
	header   []byte // the first fragment's header, kept when offset 0 arrives
	total    int    // payload length, known once the last fragment arrives; -1 before
	bytes    int
	deadline time.Time
}

// Reassembler collects fragments into datagrams. Owned by one protocol
// thread; not safe for concurrent use. Time is passed in.
type Reassembler struct {
	Timeout                     time.Duration
	MaxMemory, MaxFrags, MaxDgs int
	Stats                       ReassemblyStats
	// Expired, if set, is given the first fragment of a datagram that
	// timed out, so the caller can send ICMP time exceeded (code 1).
	Expired func(first []byte)

	pending map[fragKey]*partial
	memory  int
}

// NewReassembler returns a reassembler with the default limits.
func NewReassembler() *Reassembler {
	return &Reassembler{
		Timeout: DefaultReassemblyTimeout, MaxMemory: DefaultReassemblyMemory,
		MaxFrags: DefaultMaxFragments, MaxDgs: DefaultMaxDatagrams,
		pending: make(map[fragKey]*partial),
	}
}

// Add takes a parsed fragment and returns the whole datagram (a fresh
// buffer with a 20-byte header) once every piece has arrived.
func (r *Reassembler) Add(h Header, now time.Time) ([]byte, bool) {
	r.Stats.Fragments++
	off, data := h.FragOffset(), h.Payload()
	end := off + len(data)
	if end > maxDatagram-MinHeaderLen || (h.MF() && len(data)%8 != 0) || (h.MF() && len(data) == 0) {
		r.Stats.Malformed++
		return nil, false
	}
	k := fragKey{h.Src(), h.Dst(), h.ID(), h.Protocol()}
	p := r.pending[k]
	if p == nil {
		if len(r.pending) >= r.MaxDgs {
			r.Stats.TooMany++
			return nil, false
		}
		p = &partial{total: -1, deadline: now.Add(r.Timeout)}
		r.pending[k] = p
	}
	if r.memory+len(data) > r.MaxMemory {
		r.Stats.MemoryDrops++
		r.discard(k, p)
		return nil, false
	}
	if len(p.frags) >= r.MaxFrags {
		r.Stats.TooMany++
		r.discard(k, p)
		return nil, false
	}
	// Overlaps are refused outright (RFC 5722 does so for IPv6, and it
	// defeats the overlapping-fragment evasion tricks); exact duplicates
	// are ignored.
	for _, f := range p.frags {
		fe := f.off + len(f.data)
		if off == f.off && end == fe {
			return nil, false
		}
		if off < fe && f.off < end {
			r.Stats.Overlaps++
			r.discard(k, p)
			return nil, false
		}
	}
	if !h.MF() {
		if p.total >= 0 && p.total != end {
			r.Stats.Malformed++
			r.discard(k, p)
			return nil, false
		}
		p.total = end
	}
	if p.total >= 0 && end > p.total {
		r.Stats.Malformed++
		r.discard(k, p)
		return nil, false
	}
	if off == 0 {
		p.header = append([]byte(nil), h[:MinHeaderLen]...)
	}
	p.frags = append(p.frags, frag{off, append([]byte(nil), data...)})
	p.bytes += len(data)
	r.memory += len(data)
	if p.total < 0 || p.bytes != p.total || p.header == nil {
		return nil, false
	}
	// No overlaps and the byte count matches: the pieces tile exactly.
	sort.Slice(p.frags, func(i, j int) bool { return p.frags[i].off < p.frags[j].off })
	out := make([]byte, MinHeaderLen+p.total)
	copy(out, p.header)
	for _, f := range p.frags {
		copy(out[MinHeaderLen+f.off:], f.data)
	}
	oh := Header(out)
	out[0] = Version<<4 | MinHeaderLen/4
	oh.SetTotalLen(len(out))
	oh.setFlagsFrag(false, false, 0)
	oh.SetChecksum()
	r.memory -= p.bytes
	delete(r.pending, k)
	r.Stats.Reassembled++
	return out, true
}

func (r *Reassembler) discard(k fragKey, p *partial) {
	r.memory -= p.bytes
	delete(r.pending, k)
}

// Memory returns the payload bytes held.
func (r *Reassembler) Memory() int { return r.memory }

// Pending returns the number of incomplete datagrams.
func (r *Reassembler) Pending() int { return len(r.pending) }

// NextDeadline returns the earliest reassembly timeout.
func (r *Reassembler) NextDeadline() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, p := range r.pending {
		if !ok || p.deadline.Before(t) {
			t, ok = p.deadline, true
		}
	}
	return t, ok
}

// Advance drops datagrams whose timer ran out.
func (r *Reassembler) Advance(now time.Time) {
	for k, p := range r.pending {
		if now.Before(p.deadline) {
			continue
		}
		r.Stats.Timeouts++
		if r.Expired != nil && p.header != nil {
			for _, f := range p.frags {
				if f.off == 0 {
					first := append(append([]byte(nil), p.header...), f.data...)
					Header(first).SetTotalLen(len(first))
					Header(first).SetChecksum()
					r.Expired(first)
				}
			}
		}
		r.discard(k, p)
	}
}
