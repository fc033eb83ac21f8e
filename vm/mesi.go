package vm

// MESI state per byte range (seed 001: "potentially keep track of MESI
// status in a fixed amount of RAM"; seed 000, "Caching Infrastructure").
// On a single machine the states mean, for a range of the object:
//
//	I  Invalid    nothing of it is known to be cached
//	S  Shared     cached and clean; readers may share it
//	E  Exclusive  reserved by a writer (held exclusive range lock)
//	M  Modified   written and not yet written back to the pager
//
// The map is a sorted list of segments with equal neighbours coalesced.
// When it grows past stateSegLimit the two closest segments are folded into
// the stronger state (M > E > S > I). Folding is conservative for the only
// state that drives behaviour, M: Sync walks M segments and checks each
// page's dirty bit, so an M segment over clean pages costs a scan, never a
// lost write. S and I are advisory (status and tests) and never relied on
// for validity; each page's valid bit is authoritative.

import "fmt"

// State is the MESI-like state of a byte range.
type State uint8

const (
	Invalid State = iota
	SharedState
	ExclusiveState
	Modified
)

func (s State) String() string {
	return [...]string{"I", "S", "E", "M"}[s]
}

const stateSegLimit = 256

// Segment is one entry of an object's state map.
type Segment struct {
	Start, End int64
	State      State
}

// stateMap is protected by Object.mu.
type stateMap struct {
	segs []Segment // sorted, non-overlapping, gaps mean Invalid
}

// set applies state s to [start,end). When weak is true the new state only
// replaces states weaker than itself (readers marking S must not hide M).
func (m *stateMap) set(start, end int64, s State, weak bool) {
	if start >= end {
		return
	}
	var out []Segment
	emit := func(a, b int64, st State) {
		if a >= b || st == Invalid {
			return
		}
		if n := len(out); n > 0 && out[n-1].End == a && out[n-1].State == st {
			out[n-1].End = b
			return
		}
		out = append(out, Segment{a, b, st})
	}
	pos := start // next part of [start,end) not yet emitted
	flushGap := func(limit int64) {
		if pos < limit {
			emit(pos, limit, s)
			pos = limit
		}
	}
	for _, g := range m.segs {
		if g.End <= start || g.Start >= end {
			if g.Start >= end {
				flushGap(end)
			}
			emit(g.Start, g.End, g.State)
			continue
		}
		// g overlaps [start,end).
		emit(g.Start, max(g.Start, start), g.State)
		a, b := max(g.Start, start), min(g.End, end)
		flushGap(a)
		st := s
		if weak && g.State > s {
			st = g.State
		}
		emit(a, b, st)
		pos = b
		emit(min(g.End, end), g.End, g.State)
	}
	flushGap(end)
	m.segs = out
	for len(m.segs) > stateSegLimit {
		m.foldClosest()
	}
}

func (m *stateMap) foldClosest() {
	best, gap := 0, int64(-1)
	for i := 0; i+1 < len(m.segs); i++ {
		if g := m.segs[i+1].Start - m.segs[i].End; gap < 0 || g < gap {
			best, gap = i, g
		}
	}
	a, b := m.segs[best], m.segs[best+1]
	a.End = b.End
	a.State = max(a.State, b.State)
	m.segs[best] = a
	m.segs = append(m.segs[:best+1], m.segs[best+2:]...)
}

// collect returns the segments in state s.
func (m *stateMap) collect(s State) []Segment {
	var r []Segment
	for _, g := range m.segs {
		if g.State == s {
			r = append(r, g)
		}
	}
	return r
}

func (m *stateMap) check() error {
	for i, g := range m.segs {
		if g.Start >= g.End || g.State == Invalid {
			return fmt.Errorf("vm: bad state segment %d %+v", i, g)
		}
		if i > 0 && m.segs[i-1].End > g.Start {
			return fmt.Errorf("vm: state segments overlap at %d", i)
		}
	}
	return nil
}

func (o *Object) markLocked(start, end int64, mode Mode) {
	if mode == Exclusive {
		o.states.set(start, min(end, o.size), ExclusiveState, false)
	}
}

// markUnlocked turns what a released writer left in E into M: the holder may
// have written. Operations that know better (eviction, truncate) set the
// state before unlocking.
func (o *Object) markUnlocked(start, end int64, mode Mode) {
	if mode != Exclusive {
		return
	}
	for _, g := range o.states.segs {
		if g.State == ExclusiveState && overlaps(g.Start, g.End, start, end) {
			o.states.set(max(g.Start, start), min(g.End, end), Modified, false)
		}
	}
}

// States returns a copy of the object's MESI state map.
func (o *Object) States() []Segment {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Segment(nil), o.states.segs...)
}
