package tcp

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// moveTo across the wrap of both rings, in uneven steps, keeps the byte
// order; it never moves more than the destination's room.
func TestRingMoveTo(t *testing.T) {
	src := ring{limit: 10000}
	dst := ring{limit: 3000}
	var in, out []byte
	next := byte(0)
	for round := 0; round < 200; round++ {
		chunk := make([]byte, 1+round*37%2500)
		for i := range chunk {
			chunk[i] = next
			next++
		}
		k := src.write(chunk)
		in = append(in, chunk[:k]...)
		free := dst.free()
		moved := src.moveTo(&dst, 1+round*53%4000)
		if moved > free {
			t.Fatalf("round %d: moved %d into %d bytes of room", round, moved, free)
		}
		buf := make([]byte, round*29%3500)
		out = append(out, buf[:dst.read(buf)]...)
	}
	for src.len() > 0 || dst.len() > 0 {
		src.moveTo(&dst, 1000)
		buf := make([]byte, 700)
		out = append(out, buf[:dst.read(buf)]...)
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("%d bytes in, %d out, equal %v", len(in), len(out), bytes.Equal(in, out))
	}
}

// An echo by Splice (the server moves what it receives into its own send
// buffer) over a lossy, reordering link: every byte comes back, and the
// server's Splice ends with io.EOF after the client's FIN.
func TestSpliceEchoSim(t *testing.T) {
	sm := newSim(t, linkConfig{Rate: 125e6, Delay: time.Millisecond, Jitter: 300 * time.Microsecond, Loss: 0.01}, 5,
		func(c *Config) { c.SendBufSize, c.RecvBufSize = 32<<10, 48<<10 })
	c, s := connectPair(t, sm)
	const n = 2 << 20
	st := newStreamer(t, 3, n, c, c)
	moved, eof := 0, false
	pump := func() {
		st.pump()
		for !eof {
			k, err := s.Splice(s, 10000)
			moved += k
			if err == ErrWouldBlock {
				break
			}
			if err == io.EOF {
				eof = true
				s.CloseWrite()
				break
			}
			if err != nil {
				t.Fatalf("splice after %d bytes: %v", moved, err)
			}
		}
	}
	sm.runUntil(10*time.Minute, func() bool {
		pump()
		return st.done() && eof
	})
	if st.err != nil || moved != n {
		t.Fatalf("echo: %v, %d bytes spliced of %d", st.err, moved, n)
	}
	if _, err := c.Splice(s, 1); err != ErrOtherStack {
		t.Fatalf("splice to another stack's connection: %v", err)
	}
}
