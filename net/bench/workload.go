package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// Ports the workloads listen on.
const (
	portDiscard = 9
	portEcho    = 7
	portClose   = 13
)

// Request/response sizes of the RR workload and the write size of Bulk.
const (
	ReqSize   = 64
	RespSize  = 1024
	BulkChunk = 64 << 10
)

// serve accepts on l until it is closed, running handle on each connection
// in its own goroutine and closing the connection afterwards.
func serve(l net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
}

// closeWriter is the half-close both stacks' connections offer.
type closeWriter interface{ CloseWrite() error }

// Transfer sends chunks writes of chunk over one connection from the
// client to the server, half-closes, and returns what the server's sink
// was given once it saw EOF. It returns when every byte has arrived, so
// a timed Transfer measures delivery, not buffering.
func Transfer(p Pair, chunk []byte, chunks int, sink func([]byte)) (int64, error) {
	l, err := p.Listen(portDiscard)
	if err != nil {
		return 0, fmt.Errorf("bench: listen: %w", err)
	}
	defer l.Close()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- result{0, err}
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		var n int64
		for {
			m, err := c.Read(buf)
			if m > 0 {
				n += int64(m)
				sink(buf[:m])
			}
			if err == io.EOF {
				done <- result{n, nil}
				return
			}
			if err != nil {
				done <- result{n, err}
				return
			}
		}
	}()
	c, err := p.Dial(context.Background(), portDiscard)
	if err != nil {
		return 0, fmt.Errorf("bench: dial: %w", err)
	}
	defer c.Close()
	for i := 0; i < chunks; i++ {
		if _, err := c.Write(chunk); err != nil {
			return 0, fmt.Errorf("bench: write %d: %w", i, err)
		}
	}
	if err := c.(closeWriter).CloseWrite(); err != nil {
		return 0, fmt.Errorf("bench: close write: %w", err)
	}
	r := <-done
	if r.err != nil {
		return r.n, fmt.Errorf("bench: server read: %w", r.err)
	}
	return r.n, nil
}

// Bulk is one-direction throughput: b.N writes of BulkChunk bytes,
// timed until the server has read them all. It fails unless exactly
// b.N*BulkChunk bytes arrived.
func Bulk(b *testing.B, p Pair) {
	chunk := make([]byte, BulkChunk)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	b.SetBytes(BulkChunk)
	b.ReportAllocs()
	cpu0, t0 := cpuTime(), time.Now()
	b.ResetTimer()
	n, err := Transfer(p, chunk, b.N, func([]byte) {})
	b.StopTimer()
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	if err != nil {
		b.Fatal(err)
	}
	if want := int64(b.N) * BulkChunk; n != want {
		b.Fatalf("bulk: server got %d bytes, want %d", n, want)
	}
	bits := float64(n) * 8
	b.ReportMetric(bits/wall.Seconds()/1e9, "Gbit/s")
	if cpu > 0 {
		b.ReportMetric(bits/cpu.Seconds()/1e9, "Gbit/s/core")
	}
}

// ConnectOnce opens a connection to the close server, waits for the
// server's FIN (EOF) and closes: a full handshake and a full teardown
// seen from the client.
func ConnectOnce(p Pair) error {
	c, err := p.Dial(context.Background(), portClose)
	if err != nil {
		return fmt.Errorf("bench: dial: %w", err)
	}
	var one [1]byte
	n, err := c.Read(one[:])
	c.Close()
	if n != 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("bench: want EOF from the server's close, got %d bytes, %v", n, err)
	}
	return nil
}

// ListenClose starts the server side of ConnectOnce: accept and close.
func ListenClose(p Pair) (net.Listener, error) {
	l, err := p.Listen(portClose)
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	serve(l, func(net.Conn) {})
	return l, nil
}

// Connect is connection setup and teardown, one after another.
func Connect(b *testing.B, p Pair) {
	l, err := ListenClose(p)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	cpu0, t0 := cpuTime(), time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ConnectOnce(p); err != nil {
			b.Fatalf("conn %d: %v", i, err)
		}
	}
	b.StopTimer()
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	b.ReportMetric(float64(b.N)/wall.Seconds(), "conns/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// Response fills resp with the answer to req, so the client can check
// that each response belongs to its request.
func Response(req, resp []byte) {
	for i := range resp {
		resp[i] = req[i%len(req)] ^ byte(i)
	}
}

// ListenRR starts the RR server: read a ReqSize request, write a
// RespSize response, until EOF.
func ListenRR(p Pair) (net.Listener, error) {
	l, err := p.Listen(portEcho)
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	serve(l, func(c net.Conn) {
		req := make([]byte, ReqSize)
		resp := make([]byte, RespSize)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			Response(req, resp)
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
	return l, nil
}

// RoundTrip sends req and reads the response into resp.
func RoundTrip(c net.Conn, req, resp []byte) error {
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("bench: write request: %w", err)
	}
	if _, err := io.ReadFull(c, resp); err != nil {
		return fmt.Errorf("bench: read response: %w", err)
	}
	return nil
}

// RR is request/response latency on one connection: a 64-byte request,
// a 1 KiB response, one outstanding at a time. It reports the median and
// 99th percentile of the per-request times besides the mean (ns/op).
func RR(b *testing.B, p Pair) {
	l, err := ListenRR(p)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	c, err := p.Dial(context.Background(), portEcho)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := make([]byte, ReqSize)
	resp := make([]byte, RespSize)
	want := make([]byte, RespSize)
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req[0] = byte(i)
		t := time.Now()
		if err := RoundTrip(c, req, resp); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	Response(req, want)
	if string(want) != string(resp) {
		b.Fatal("rr: last response does not match its request")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// Workloads lists the benchmarks in table order.
var Workloads = []struct {
	Name string
	Run  func(*testing.B, Pair)
}{
	{"Bulk", Bulk},
	{"Connect", Connect},
	{"RR", RR},
}

// Run runs workload w on a fresh pair of stack s.
func Run(b *testing.B, s Stack, w func(*testing.B, Pair)) {
	p, err := s.New()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	w(b, p)
}
