package stack

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"damselfly/net/icmp"
	"damselfly/net/ipv4"
	"damselfly/net/link"
)

var (
	addrA = netip.MustParsePrefix("10.0.0.1/24")
	addrB = netip.MustParsePrefix("10.0.0.2/24")
)

type pair struct {
	clk  *fakeClock
	pipe *link.Pipe
	a, b *Stack
}

// run waits until both stacks are quiescent.
func (pr *pair) run() { run(pr.a, pr.b) }

func newPair(t *testing.T, na, nb int, part Partition, rss bool) *pair {
	t.Helper()
	pr := &pair{clk: newFakeClock()}
	rec := newRecorder(10000)
	rec.writeOnFailure(t)
	pc := link.PipeConfig{Now: pr.clk.Now, Observe: rec.observe}
	if rss {
		pc.RSSKey, pc.Hash = SymmetricKey, FrameRSS
	}
	pr.pipe = link.NewPipe(pc)
	var err error
	mk := func(ep link.Endpoint, addr netip.Prefix, n int) *Stack {
		s, e := New(Config{Link: ep, Addr: addr, Threads: n, Partition: part, Now: pr.clk.Now})
		if e != nil {
			err = e
			return nil
		}
		t.Cleanup(s.Close)
		return s
	}
	pr.a = mk(pr.pipe.A, addrA, na)
	pr.b = mk(pr.pipe.B, addrB, nb)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestPingAndARP(t *testing.T) {
	pr := newPair(t, 3, 2, Ports{}, false)
	p := pr.a.threads[1]
	p.loop.Post(func() {
		p.output(ipv4.ProtoICMP, pr.a.Addr(), pr.b.Addr(), icmp.Echo(icmp.TypeEchoRequest, 7, 1, []byte("hello")), false)
	})
	pr.run()
	sa, sb := pr.a.Stats(), pr.b.Stats()
	if sb.Total.EchoReplies != 1 || sa.Total.ICMPIn != 1 {
		t.Fatalf("echo: B replies %d, A icmp in %d", sb.Total.EchoReplies, sa.Total.ICMPIn)
	}
	if sb.Total.ARP.RepliesSent != 1 {
		t.Fatalf("B answered %d ARP requests, want exactly 1 (thread 0 only)", sb.Total.ARP.RepliesSent)
	}
	// Every replica of A's cache learned B from the reply.
	for _, q := range pr.a.threads {
		var ok bool
		onThread(pr.a, q, func() { _, ok = q.arp.Lookup(pr.b.Addr(), pr.clk.Now()) })
		if !ok {
			t.Fatalf("thread %d did not learn B", q.id)
		}
	}
	// A ping to an address nobody answers is dropped after the ARP retries.
	p.loop.Post(func() {
		p.output(ipv4.ProtoICMP, pr.a.Addr(), netip.MustParseAddr("10.0.0.99"), icmp.Echo(icmp.TypeEchoRequest, 7, 2, nil), false)
	})
	pr.run()
	for i := 0; i < 10; i++ {
		d, ok := nextTimer(pr.a, pr.b)
		if !ok {
			break
		}
		pr.clk.Set(d)
		pr.run()
	}
	if st := pr.a.Stats().Total; st.ARP.Timeouts != 1 || st.Drops["link-error"] != 1 {
		t.Fatalf("unanswered ARP: %+v drops %v", st.ARP, st.Drops)
	}
}

func TestUDPAndPortUnreachable(t *testing.T) {
	pr := newPair(t, 2, 3, Ports{}, false)
	srv, err := pr.b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 5000))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := pr.a.ListenUDP(netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{0, 1, 1400, 1472, 1473, 8000, 30000} {
		msg := bytes.Repeat([]byte{byte(i + 1)}, size)
		if _, err := cli.WriteToUDPAddrPort(msg, netip.AddrPortFrom(pr.b.Addr(), 5000)); err != nil {
			t.Fatal(err)
		}
		pr.run()
		buf := make([]byte, 65536)
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) || from != cli.local {
			t.Fatalf("size %d: got %d bytes from %v: %v", size, n, from, err)
		}
	}
	sa, sb := pr.a.Stats().Total, pr.b.Stats().Total
	if sa.FragsOut == 0 || sb.Reassembly.Reassembled != 3 {
		t.Fatalf("fragments out %d, reassembled %d", sa.FragsOut, sb.Reassembly.Reassembled)
	}
	// Reassembly happens on the thread the fragments arrive on (0), then
	// the datagram goes to its owner: a counted hop unless 0 owns it.
	owner := pr.b.owner(cli.local, netip.AddrPortFrom(pr.b.Addr(), 5000))
	if (owner != 0) != (sb.HopsOut == 3) || sb.HopsIn != sb.HopsOut {
		t.Fatalf("owner %d hops out %d in %d", owner, sb.HopsOut, sb.HopsIn)
	}
	// Closed port: ICMP port unreachable back to A.
	cli.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(pr.b.Addr(), 5001))
	pr.run()
	if st := pr.b.Stats().Total; st.Drops["udp-no-port"] != 1 || st.ICMPErrorsOut != 1 {
		t.Fatalf("B: %+v", st.Drops)
	}
	if st := pr.a.Stats().Total; st.ICMPErrorsIn != 1 {
		t.Fatalf("A icmp errors in %d", st.ICMPErrorsIn)
	}
	srv.Close()
	if _, err := pr.b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 5000)); err != nil {
		t.Fatal("port not released on close")
	}
}

// With an RSS device, frames arrive on the thread the NIC hashed them to.
// Under netpart=toeplitz that is the owner; under netpart=ports it often
// is not, and the stack hands packets over and counts the hop.
func TestHopsRSSvsPartition(t *testing.T) {
	for _, tc := range []struct {
		part     Partition
		wantHops bool
	}{{Toeplitz{}, false}, {Ports{}, true}} {
		pr := newPair(t, 3, 3, tc.part, true)
		srv, _ := pr.b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 7000))
		var clis []*UDPConn
		for i := 0; i < 30; i++ {
			c, err := pr.a.ListenUDP(netip.AddrPortFrom(netip.Addr{}, uint16(40000+i)))
			if err != nil {
				t.Fatal(err)
			}
			clis = append(clis, c)
			c.WriteToUDPAddrPort([]byte{byte(i)}, netip.AddrPortFrom(pr.b.Addr(), 7000))
		}
		pr.run()
		got := 0
		srv.SetReadDeadline(time.Now().Add(-time.Second))
		for {
			if _, _, err := srv.ReadFromUDPAddrPort(make([]byte, 10)); err != nil {
				break
			}
			got++
		}
		st := pr.b.Stats()
		if got != 30 {
			t.Fatalf("%s: %d of 30 datagrams", tc.part.Name(), got)
		}
		if (st.Total.HopsOut > 0) != tc.wantHops || st.Total.HopsIn != st.Total.HopsOut {
			t.Fatalf("%s: hops out %d in %d", tc.part.Name(), st.Total.HopsOut, st.Total.HopsIn)
		}
		used := 0
		for _, ts := range st.Threads {
			if ts.UDPIn > 0 {
				used++
			}
		}
		if used < 2 {
			t.Fatalf("%s: traffic on %d threads only", tc.part.Name(), used)
		}
	}
}

func TestMalformedFramesCounted(t *testing.T) {
	pr := newPair(t, 1, 1, Ports{}, false)
	mac := pr.b.mac
	send := func(b []byte) { pr.pipe.A.Send(b); pr.run() }
	send([]byte{1, 2, 3})
	bad := make([]byte, 60)
	copy(bad, mac[:])
	bad[12], bad[13] = 0x08, 0x00
	bad[14] = 0x45
	send(bad) // bad IPv4 (total length 0)
	st := pr.b.Stats().Total
	if st.Drops["ether-short"] != 1 || st.Drops["ip-malformed"] != 1 {
		t.Fatalf("%v", st.Drops)
	}
}

func FuzzInputFrame(f *testing.F) {
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		clk := newFakeClock()
		pipe := link.NewPipe(link.PipeConfig{Now: clk.Now})
		s, err := New(Config{Link: pipe.B, Addr: addrB, Threads: 2, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if len(b) >= 6 {
			copy(b, s.mac[:]) // let frames past the MAC filter
		}
		pipe.A.Send(b)
		run(s)
		clk.Add(time.Hour)
		run(s)
	})
}

func TestReassemblyTimeoutSendsTimeExceeded(t *testing.T) {
	pr := newPair(t, 1, 2, Ports{}, false)
	srv, _ := pr.b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 5000))
	defer srv.Close()
	// Send only the first fragment of a large datagram from A by hand.
	p := pr.a.threads[0]
	p.loop.Post(func() {
		payload := make([]byte, 3000)
		d := make([]byte, ipv4.MinHeaderLen+len(payload))
		ipv4.Encode(d, ipv4.Fields{ID: 99, Protocol: ipv4.ProtoUDP, Src: pr.a.Addr(), Dst: pr.b.Addr()}, len(payload))
		frags, err := ipv4.Fragment(d, 1500)
		if err != nil {
			t.Error(err)
			return
		}
		fb := make([]byte, 14+len(frags[0]))
		copy(fb[14:], frags[0])
		p.sendIP(fb, pr.b.Addr())
	})
	pr.run()
	if st := pr.b.Stats().Total; st.Reassembly.Fragments != 1 {
		t.Fatalf("fragments %d", st.Reassembly.Fragments)
	}
	d, ok := nextTimer(pr.a, pr.b)
	if !ok {
		t.Fatal("no reassembly timer")
	}
	pr.clk.Set(d)
	pr.run()
	if st := pr.b.Stats().Total; st.Reassembly.Timeouts != 1 || st.ICMPErrorsOut != 1 {
		t.Fatalf("timeouts %d icmp errors out %d", st.Reassembly.Timeouts, st.ICMPErrorsOut)
	}
	if st := pr.a.Stats().Total; st.ICMPErrorsIn != 1 {
		t.Fatalf("A got %d ICMP errors", st.ICMPErrorsIn)
	}
}
