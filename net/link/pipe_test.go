package link

import (
	"bytes"
	"testing"
	"time"

	"damselfly/net/ether"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func frame(i int) []byte {
	return ether.Build(ether.Broadcast, ether.MAC{2}, ether.TypeIPv4, []byte{byte(i >> 8), byte(i), 1, 2, 3, 4, 5, 6, 7, 8})
}

func collect(e *PipeEnd) *[][]byte {
	var got [][]byte
	e.SetReceiver(func(f []byte, _ RSS) { got = append(got, f) })
	return &got
}

func TestPipeClean(t *testing.T) {
	p := NewPipe(PipeConfig{})
	got := collect(p.B)
	for i := range 10 {
		if err := p.A.Send(frame(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(*got) != 10 {
		t.Fatalf("%d frames", len(*got))
	}
	for i, f := range *got {
		if !bytes.Equal(f, frame(i)) {
			t.Fatalf("frame %d changed or reordered", i)
		}
	}
	p.A.Close()
	if p.A.Send(frame(0)) != ErrClosed {
		t.Fatal("send after close")
	}
}

func TestPipeImpairments(t *testing.T) {
	clk := &fakeClock{time.Unix(0, 0)}
	const n = 4000
	p := NewPipe(PipeConfig{Now: clk.Now, Seed: 1, AtoB: Impairments{
		Loss: 0.1, Duplicate: 0.05, Corrupt: 0.05, Reorder: 0.1, Delay: 10 * time.Millisecond, Jitter: time.Millisecond,
	}})
	got := collect(p.B)
	for i := range n {
		p.A.Send(frame(i))
		clk.t = clk.t.Add(100 * time.Microsecond)
		p.Advance()
	}
	if len(*got) == 0 || len(*got) > n {
		t.Fatalf("delivered %d before the delay passed", len(*got))
	}
	for {
		d, ok := p.NextDeadline()
		if !ok {
			break
		}
		clk.t = d
		p.Advance()
	}
	st := p.A.Stats()
	if st.Sent != n || st.Lost == 0 || st.Duplicated == 0 || st.Corrupted == 0 || st.Reordered == 0 {
		t.Fatalf("stats %+v", st)
	}
	if want := st.Sent - st.Lost + st.Duplicated; uint64(len(*got)) != want || st.Delivered != want {
		t.Fatalf("delivered %d (counted %d), want %d", len(*got), st.Delivered, want)
	}
	// Some frame must arrive after a later-sent one, and some must differ.
	reordered, corrupted := false, 0
	last := -1
	for _, f := range *got {
		i := int(f[ether.HeaderLen])<<8 | int(f[ether.HeaderLen+1])
		if i < last {
			reordered = true
		}
		last = i
		if i < n && !bytes.Equal(f, frame(i)) {
			corrupted++
		}
	}
	if !reordered || corrupted == 0 {
		t.Fatalf("reordered %v corrupted %d", reordered, corrupted)
	}
	// The reverse direction is clean.
	back := collect(p.A)
	p.B.Send(frame(1))
	if len(*back) != 1 {
		t.Fatal("reverse direction impaired")
	}
}

func TestPipeRSS(t *testing.T) {
	p := NewPipe(PipeConfig{RSSKey: []byte{1}, Hash: func(key, f []byte) (uint32, bool) { return uint32(len(f)), true }})
	var rss RSS
	p.B.SetReceiver(func(f []byte, r RSS) { rss = r })
	p.A.Send(frame(0))
	if !rss.Valid || rss.Hash != uint32(len(frame(0))) {
		t.Fatalf("%+v", rss)
	}
}

// A frame handed back with RecycleRx carries the next frame sent to that
// end; frames not handed back are never reused.
func TestPipeRecycleRx(t *testing.T) {
	p := NewPipe(PipeConfig{})
	got := collect(p.B)
	if err := p.A.Send(frame(1)); err != nil {
		t.Fatal(err)
	}
	if err := p.A.Send(frame(2)); err != nil {
		t.Fatal(err)
	}
	first, second := (*got)[0], (*got)[1]
	if &first[0] == &second[0] {
		t.Fatal("two frames in flight share a buffer")
	}
	p.B.RecycleRx(first)
	if err := p.A.Send(frame(3)); err != nil {
		t.Fatal(err)
	}
	third := (*got)[2]
	if &third[0] != &first[0] {
		t.Fatal("the recycled buffer was not reused")
	}
	if !bytes.Equal(third, frame(3)) || !bytes.Equal(second, frame(2)) {
		t.Fatal("frame contents changed")
	}
	// The other direction has its own free list.
	back := collect(p.A)
	if err := p.B.Send(frame(4)); err != nil {
		t.Fatal(err)
	}
	if f := (*back)[0]; &f[0] == &first[0] || !bytes.Equal(f, frame(4)) {
		t.Fatal("a frame recycled at B was used for A")
	}
}
