package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"net"
	"testing"
)

// TestTransferMovesBytes checks that each stack delivers every byte of a
// bulk transfer, in order, so a benchmark never measures a broken stack.
func TestTransferMovesBytes(t *testing.T) {
	chunk := make([]byte, 48<<10+13) // not a multiple of the MSS
	for i := range chunk {
		chunk[i] = byte(i*31 + i>>8)
	}
	const chunks = 40
	sent := sha256.New()
	for range chunks {
		sent.Write(chunk)
	}
	for _, s := range Stacks {
		t.Run(s.Name, func(t *testing.T) {
			p, err := s.New()
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got := sha256.New()
			n, err := Transfer(p, chunk, chunks, func(b []byte) { got.Write(b) })
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(chunk) * chunks); n != want {
				t.Fatalf("server got %d bytes, want %d", n, want)
			}
			if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
				t.Fatal("server got different bytes than were sent")
			}
		})
	}
}

// TestRRAndConnect checks that every response matches its request and
// that connect/close sees the server's FIN, on each stack.
func TestRRAndConnect(t *testing.T) {
	for _, s := range Stacks {
		t.Run(s.Name, func(t *testing.T) {
			p, err := s.New()
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			l, err := ListenRR(p)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c, err := p.Dial(context.Background(), portEcho)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req, resp, want := make([]byte, ReqSize), make([]byte, RespSize), make([]byte, RespSize)
			for i := range 200 {
				for j := range req {
					req[j] = byte(i + j)
				}
				if err := RoundTrip(c, req, resp); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				Response(req, want)
				if !bytes.Equal(resp, want) {
					t.Fatalf("request %d: wrong response", i)
				}
			}
			cl, err := ListenClose(p)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			for i := range 50 {
				if err := ConnectOnce(p); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
			}
		})
	}
}

// blackhole is a Pair whose connections accept writes and deliver
// nothing: the benchmarks must refuse to report figures for it.
type blackhole struct{ accept chan net.Conn }

type holeConn struct{ net.Conn }

func (c holeConn) Write(b []byte) (int, error) { return len(b), nil }
func (c holeConn) CloseWrite() error           { return c.Conn.Close() }

type holeListener struct {
	ch     chan net.Conn
	closed chan struct{}
}

func (l *holeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *holeListener) Close() error   { close(l.closed); return nil }
func (l *holeListener) Addr() net.Addr { return &net.TCPAddr{} }

func (h *blackhole) Listen(uint16) (net.Listener, error) {
	return &holeListener{ch: h.accept, closed: make(chan struct{})}, nil
}
func (h *blackhole) Dial(context.Context, uint16) (net.Conn, error) {
	a, b := net.Pipe()
	h.accept <- b
	return holeConn{a}, nil
}
func (h *blackhole) Close() {}

func TestBulkRefusesLostBytes(t *testing.T) {
	r := testing.Benchmark(func(b *testing.B) { Bulk(b, &blackhole{accept: make(chan net.Conn, 1)}) })
	if r.N != 0 {
		t.Fatalf("Bulk reported %v over a link that delivers nothing", r)
	}
	var h hash.Hash = sha256.New()
	n, err := Transfer(&blackhole{accept: make(chan net.Conn, 1)}, make([]byte, 100), 3, func(b []byte) { h.Write(b) })
	if err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("blackhole delivered %d bytes", n)
	}
}
