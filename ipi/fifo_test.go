package ipi

import "testing"

// TestFIFOLaps drives one ring through several laps by hand, checking at each step what
// the consumer sees: a slot still holding the previous lap's sequence number must read as
// empty, and the producer's cached view of the consumer's index must refresh when it says
// the ring is half full.
func TestFIFOLaps(t *testing.T) {
	const size = 4
	f := newFIFO(size)
	var got []int
	fn := func(cpu int, arg any) { got = append(got, arg.(int)) }
	next := 0 // next value to put
	want := 0 // next value the consumer must take
	for step := 0; step < 10*size; step++ {
		// Fill to half (the producer's limit), checking halfFull on the way.
		for !f.halfFull() {
			if seq := f.put(fn, next); seq != uint64(next+1) {
				t.Fatalf("put %d returned seq %d, want %d", next, seq, next+1)
			}
			next++
		}
		if n := next - want; n != size/2 {
			t.Fatalf("step %d: producer stopped with %d entries queued, want %d", step, n, size/2)
		}
		// Take one: the producer must see the room only by re-reading rindex.
		if f.empty() {
			t.Fatalf("step %d: empty with %d entries queued", step, next-want)
		}
		e, seq, ok := f.take()
		if !ok || seq != uint64(want+1) {
			t.Fatalf("step %d: take = seq %d ok %v, want seq %d", step, seq, ok, want+1)
		}
		e.fn(0, e.arg)
		f.finish(seq)
		want++
		if f.halfFull() {
			t.Fatalf("step %d: still half full after a take", step)
		}
	}
	// Drain: the slots beyond the last put hold older laps' sequence numbers.
	for want < next {
		e, _, ok := f.take()
		if !ok {
			t.Fatalf("take %d: empty", want)
		}
		e.fn(0, e.arg)
		want++
	}
	if !f.empty() {
		t.Fatal("drained ring reads as not empty")
	}
	if _, _, ok := f.take(); ok {
		t.Fatal("take on a drained ring returned an entry")
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("entry %d carried %d: order lost", i, v)
		}
	}
	for i := range f.ring {
		if f.ring[i].fn != nil || f.ring[i].arg != nil {
			t.Fatalf("slot %d still references a taken entry", i)
		}
	}
	if x := f.xindex.Load(); x != uint64(10*size) {
		t.Fatalf("xindex %d, want %d", x, 10*size)
	}
}

// TestFIFOOverflowPanics checks put's guard against a producer that ignored halfFull.
func TestFIFOOverflowPanics(t *testing.T) {
	f := newFIFO(2)
	fn := func(int, any) {}
	f.put(fn, nil)
	f.put(fn, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("third put into a ring of two did not panic")
		}
	}()
	f.put(fn, nil)
}
