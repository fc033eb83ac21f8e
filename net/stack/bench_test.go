package stack

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"damselfly/net/link"
)

// benchPair is a clean in-memory link between two stacks with n threads.
func benchPair(b *testing.B, n int) *livePair {
	return newLivePair(b, n, n, Toeplitz{}, link.Impairments{})
}

func discardServer(l *TCPListener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
}

// BenchmarkThroughput streams bulk data one way over one connection;
// MB/s is the figure (Gbit/s = MB/s * 8 / 1000).
func BenchmarkThroughput(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run("threads="+strconv.Itoa(n), func(b *testing.B) {
			lp := benchPair(b, n)
			l, err := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 9), 16)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			discardServer(l)
			c, err := lp.a.DialTCP(context.Background(), netip.AddrPortFrom(lp.b.Addr(), 9))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEcho streams through an echo server in both directions at once.
func BenchmarkEcho(b *testing.B) {
	lp := benchPair(b, 2)
	l, _ := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 16)
	defer l.Close()
	echoServer(b, l)
	c, err := lp.a.DialTCP(context.Background(), netip.AddrPortFrom(lp.b.Addr(), 7))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	done := make(chan int64)
	go func() {
		n, _ := io.CopyN(io.Discard, c, int64(b.N)*int64(len(buf)))
		done <- n
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if n := <-done; n != int64(b.N)*int64(len(buf)) {
		b.Fatalf("echoed %d", n)
	}
}

// BenchmarkConnections opens and closes one connection per op (connect,
// accept, close both ends): connections/s = 1e9 / ns/op.
func BenchmarkConnections(b *testing.B) {
	lp := benchPair(b, 2)
	l, _ := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 9), 1024)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dst := netip.AddrPortFrom(lp.b.Addr(), 9)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := lp.a.DialTCP(context.Background(), dst)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkRoundTrip is a 1-byte ping-pong on an established connection:
// the request latency of the stack itself.
func BenchmarkRoundTrip(b *testing.B) {
	lp := benchPair(b, 2)
	l, _ := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 16)
	defer l.Close()
	echoServer(b, l)
	c, err := lp.a.DialTCP(context.Background(), netip.AddrPortFrom(lp.b.Addr(), 7))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetNoDelay(true)
	buf := []byte{1}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(buf)
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHTTPRequest is a small GET over a kept-alive connection.
func BenchmarkHTTPRequest(b *testing.B) {
	lp := benchPair(b, 2)
	l, _ := lp.b.Listen("tcp", ":80")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })}
	go srv.Serve(l)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: lp.a.Dial}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Get("http://10.0.0.2/")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
