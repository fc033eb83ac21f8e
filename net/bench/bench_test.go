package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
)

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

func each(b *testing.B, fn func(b *testing.B, p pair)) {
	for _, s := range stacks {
		b.Run(s.name, func(b *testing.B) {
			p := s.make(b)
			defer p.close()
			fn(b, p)
		})
	}
}

// TestPairsWork checks both harnesses move data correctly, so a benchmark
// never measures a broken stack.
func TestPairsWork(t *testing.T) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			p := s.make(t)
			defer p.close()
			l, err := p.listen(7)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			serve(l, func(c net.Conn) { io.Copy(c, c) })
			c, err := p.dial(context.Background(), 7)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := bytes.Repeat([]byte("damselfly"), 100000)
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %v", err)
			}
		})
	}
}

func BenchmarkThroughput(b *testing.B) {
	each(b, func(b *testing.B, p pair) {
		l, err := p.listen(9)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		serve(l, func(c net.Conn) { io.Copy(io.Discard, c) })
		c, err := p.dial(context.Background(), 9)
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

func BenchmarkConnections(b *testing.B) {
	each(b, func(b *testing.B, p pair) {
		l, err := p.listen(9)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		serve(l, func(net.Conn) {})
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c, err := p.dial(context.Background(), 9)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}

func BenchmarkRoundTrip(b *testing.B) {
	each(b, func(b *testing.B, p pair) {
		l, err := p.listen(7)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		serve(l, func(c net.Conn) {
			if t, ok := c.(interface{ SetNoDelay(bool) error }); ok {
				t.SetNoDelay(true)
			}
			io.Copy(c, c)
		})
		c, err := p.dial(context.Background(), 7)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if t, ok := c.(interface{ SetNoDelay(bool) error }); ok {
			t.SetNoDelay(true)
		}
		buf := []byte{1}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c.Write(buf)
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHTTPRequest(b *testing.B) {
	each(b, func(b *testing.B, p pair) {
		l, err := p.listen(80)
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })}
		go srv.Serve(l)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return p.dial(ctx, 80)
		}}}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			resp, err := client.Get("http://10.0.0.2/")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
