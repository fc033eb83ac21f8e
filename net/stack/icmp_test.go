package stack

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"damselfly/net/ether"
	"damselfly/net/icmp"
	"damselfly/net/ipv4"
	"damselfly/net/link"
)

// An ICMP fragmentation-needed message quoting one of A's segments
// reaches the owning thread's tcp.Stack (PMTU discovery), whichever thread
// the ICMP message itself landed on.
func TestICMPFragNeededReachesTCP(t *testing.T) {
	var mu sync.Mutex
	var lastSeg []byte // last IPv4 TCP datagram A sent with payload
	pipe := link.NewPipe(link.PipeConfig{Observe: func(from *link.PipeEnd, _ time.Time, f []byte) {
		if from.MAC() != (ether.MAC{2, 0, 0, 0, 0, 0xa}) || len(f) < 14+40+1 || f[23] != ipv4.ProtoTCP {
			return
		}
		mu.Lock()
		lastSeg = append([]byte(nil), f[14:]...)
		mu.Unlock()
	}})
	a, err := New(Config{Link: pipe.A, Addr: addrA, Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{Link: pipe.B, Addr: addrB, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, _ := b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 9), 4)
	defer l.Close()
	c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(addrB.Addr(), 9))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The quoted sequence number must be in [SND.UNA, SND.MAX]: hold B's
	// only protocol thread busy so that nothing A sends is acknowledged.
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	go onThread(b, b.threads[0], func() { close(started); <-release })
	<-started
	c.Write(make([]byte, 20_000))
	mu.Lock()
	seg := lastSeg
	mu.Unlock()
	if seg == nil {
		t.Fatal("no data segment seen")
	}
	msg := icmp.Error(icmp.TypeDestUnreach, icmp.CodeFragNeeded, 1200, ipv4.Header(seg), false)
	dgram := make([]byte, ipv4.MinHeaderLen+len(msg))
	router := netip.MustParseAddr("10.0.0.254")
	ipv4.Encode(dgram, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: router, Dst: addrA.Addr()}, len(msg))
	copy(dgram[ipv4.MinHeaderLen:], msg)
	pipe.B.Send(ether.Build(pipe.A.MAC(), pipe.B.MAC(), ether.TypeIPv4, dgram))
	// Wait until A's threads are idle: thread 0 has handled the message
	// and its hand-off to the owner has run.
	run(a)
	st := a.Stats()
	if st.Total.TCP.PMTUUpdates != 1 || st.Total.ICMPErrorsIn != 1 {
		t.Fatalf("PMTU updates %d, ICMP errors in %d", st.Total.TCP.PMTUUpdates, st.Total.ICMPErrorsIn)
	}
	// The ICMP message was steered to thread 0 (it has no 4-tuple); the
	// owner is c's thread: a hop unless that is 0.
	if (c.Thread() != 0) != (st.Total.HopsOut == 1) {
		t.Fatalf("thread %d, hops %d", c.Thread(), st.Total.HopsOut)
	}
}
