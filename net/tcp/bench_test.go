package tcp

import (
	"net/netip"
	"testing"
	"time"
)

// Benchmarks run two Stacks over the in-memory link on one goroutine, so
// the figures are CPU cost per core: both stacks' work plus the link's
// (a copy and a heap push per packet). No loss; 10 µs one-way delay and
// no rate limit, so the window, not the wire, bounds throughput.

func benchSim(b *testing.B, mod func(*Config)) *sim {
	sm := newSim(b, linkConfig{Delay: 10 * time.Microsecond}, 1, mod)
	sm.traceMax = 0
	return sm
}

// BenchmarkBulk moves data one way; bytes/s is goodput per core.
func BenchmarkBulk(b *testing.B) {
	for _, mtu := range []int{1500, 9000} {
		b.Run(map[int]string{1500: "mtu1500", 9000: "mtu9000"}[mtu], func(b *testing.B) {
			sm := benchSim(b, func(c *Config) { c.MTU = mtu })
			c, s := connectPair(b, sm)
			chunk := make([]byte, 64<<10)
			rbuf := make([]byte, 256<<10)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			b.ResetTimer()
			var sent, recv int64
			want := int64(b.N) * int64(len(chunk))
			for recv < want {
				for sent < want {
					n, _ := c.Write(chunk[:min(int64(len(chunk)), want-sent)])
					sent += int64(n)
					if n == 0 {
						break
					}
				}
				for {
					n, _ := s.Read(rbuf)
					recv += int64(n)
					if n == 0 {
						break
					}
				}
				if recv < want && !sm.step() {
					b.Fatalf("stalled at %d of %d", recv, want)
				}
			}
		})
	}
}

// BenchmarkConnSetup is one connection's life per op: SYN, SYN-ACK, ACK,
// accept, close from both sides (FIN, ACK each way).
func BenchmarkConnSetup(b *testing.B) {
	sm := benchSim(b, nil)
	lp := netip.AddrPortFrom(sm.addrB, 80)
	l, err := sm.b.Listen(lp, 1024)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		port := uint16(1024 + i%60000)
		c, err := sm.a.Connect(netip.AddrPortFrom(sm.addrA, port), lp)
		if err != nil {
			b.Fatal(err)
		}
		var s *Conn
		for s == nil {
			if s, _ = l.Accept(); s == nil && !sm.step() {
				b.Fatal("handshake stalled")
			}
		}
		c.Close()
		s.Close()
		for c.State() != StateTimeWait && c.State() != StateClosed || s.State() != StateClosed {
			if !sm.step() {
				b.Fatalf("close stalled: %v %v", c.State(), s.State())
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
}

// BenchmarkRequestResponse is one 100-byte request and 100-byte response
// per op on an established connection (TCP_NODELAY), the CPU cost of a
// round trip through both stacks.
func BenchmarkRequestResponse(b *testing.B) {
	sm := benchSim(b, nil)
	c, s := connectPair(b, sm)
	c.SetNoDelay(true)
	s.SetNoDelay(true)
	req := make([]byte, 100)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(req)
		got := 0
		for got < len(req) {
			n, _ := s.Read(buf)
			got += n
			if n == 0 && !sm.step() {
				b.Fatal("request stalled")
			}
		}
		s.Write(req)
		got = 0
		for got < len(req) {
			n, _ := c.Read(buf)
			got += n
			if n == 0 && !sm.step() {
				b.Fatal("response stalled")
			}
		}
	}
}
