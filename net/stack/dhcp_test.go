package stack

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"damselfly/net/dhcp"
	"damselfly/net/dns"
	"damselfly/net/link"
)

// A stack with no address boots by DHCP from a server on the peer stack,
// then resolves a name with the DNS server the lease named and connects
// to it by name.
func TestDHCPThenDNSThenDial(t *testing.T) {
	pipe := link.NewPipe(link.PipeConfig{})
	srv, err := New(Config{Link: pipe.B, Addr: addrB, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	offered := netip.MustParseAddr("10.0.0.77")
	dhcpSock, err := srv.ListenUDP(netip.AddrPortFrom(netip.Addr{}, dhcp.ServerPort))
	if err != nil {
		t.Fatal(err)
	}
	defer dhcpSock.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := dhcpSock.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req, err := dhcp.Parse(buf[:n])
			if err != nil {
				continue
			}
			typ := dhcp.Offer
			if req.Type == dhcp.Request {
				typ = dhcp.Ack
			}
			rep := &dhcp.Message{Op: 2, XID: req.XID, CHAddr: req.CHAddr, Type: typ, YIAddr: offered,
				Mask: netip.PrefixFrom(offered, 24), Routers: []netip.Addr{addrB.Addr()}, DNS: []netip.Addr{addrB.Addr()},
				ServerID: addrB.Addr(), Lease: time.Hour}
			dhcpSock.WriteToUDPAddrPort(rep.Encode(), netip.MustParseAddrPort("255.255.255.255:68"))
		}
	}()
	dnsSock, _ := srv.ListenUDP(netip.AddrPortFrom(netip.Addr{}, dns.Port))
	defer dnsSock.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := dnsSock.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			q, err := dns.Parse(buf[:n])
			if err != nil || len(q.Questions) != 1 {
				continue
			}
			a := addrB.Addr().As4()
			m := &dns.Message{ID: q.ID, Flags: 0x8180, Questions: q.Questions,
				Answers: []dns.Record{{Name: q.Questions[0].Name, Type: dns.TypeA, Class: dns.ClassIN, TTL: time.Minute, Data: a[:]}}}
			if q.Questions[0].Name != "server.test" {
				m.Flags |= 3
				m.Answers = nil
			}
			b, _ := m.Encode()
			dnsSock.WriteToUDPAddrPort(b, from)
		}
	}()
	l, _ := srv.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 4)
	defer l.Close()
	echoServer(t, l)

	cli, err := New(Config{Link: pipe.A, DHCP: true, Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	select {
	case <-cli.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("no DHCP lease")
	}
	if cli.Addr() != offered {
		t.Fatalf("address %v, want %v", cli.Addr(), offered)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs, err := cli.LookupHost(ctx, "server.test")
	if err != nil || len(addrs) != 1 || addrs[0] != addrB.Addr() {
		t.Fatalf("lookup: %v %v", addrs, err)
	}
	if _, err := cli.LookupHost(ctx, "nosuch.test"); err == nil {
		t.Fatal("lookup of a missing name succeeded")
	}
	c, err := cli.Dial(ctx, "tcp", "server.test:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("%q %v", buf, err)
	}
}
