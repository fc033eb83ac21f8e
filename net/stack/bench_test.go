package stack

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"damselfly/net/link"
	"damselfly/sched"
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

// Socket-call cost on an idle stack: one control call (a stats snapshot
// of thread 0) per op, by each way a caller reaches a protocol thread.
func BenchmarkSocketCall(b *testing.B) {
	sys := sched.NewSystem(2, sched.Options{})
	sys.Start()
	defer sys.Stop()
	pipe := link.NewPipe(link.PipeConfig{})
	s, err := New(Config{Link: pipe.A, Addr: addrA, Threads: 2, Loops: SchedLoops(sys)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		s.Close()
		for _, p := range s.threads {
			<-p.loop.Exited()
		}
	}()
	p := s.threads[0] // on CPU 0
	// A goroutine: an ExternalSender, reply to a port with a waiter.
	b.Run("goroutine", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := s.call(p, &barrierlessMsg{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// LWKT threads: td.DoMsg from the protocol thread's CPU (served in
	// the caller) and from the other CPU (queued, IPI both ways).
	for _, tc := range []struct {
		name string
		cpu  int
	}{{"thread-same-cpu", 0}, {"thread-other-cpu", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			sys.Run(tc.cpu, sched.ThreadOpts{Name: "bench", Prio: sched.PriUser}, func(td *sched.Thread) {
				m := &barrierlessMsg{}
				m.Init(m, nil, 0)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := td.DoMsg(p.loop.Port(), &m.Msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// barrierlessMsg is the cheapest socket message: it reads one counter.
type barrierlessMsg struct {
	sched.Msg
	n uint64
}

func (m *barrierlessMsg) serve(p *proto, c *sched.CPU) error {
	m.n = p.ctr.framesIn
	return nil
}
