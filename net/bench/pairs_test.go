package bench

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"damselfly/net/link"
	dstack "damselfly/net/stack"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// pair is a client stack and a server stack joined by an in-memory link.
type pair interface {
	listen(port uint16) (net.Listener, error)
	dial(ctx context.Context, port uint16) (net.Conn, error)
	close()
}

var (
	clientAddr = netip.MustParseAddr("10.0.0.1")
	serverAddr = netip.MustParseAddr("10.0.0.2")
)

type damselflyPair struct {
	stop chan struct{}
	a, b *dstack.Stack
}

func newDamselfly(tb testing.TB, threads int) pair {
	p := &damselflyPair{stop: make(chan struct{})}
	pl := link.NewPipe(link.PipeConfig{})
	var err error
	if p.a, err = dstack.New(dstack.Config{Link: pl.A, Addr: netip.PrefixFrom(clientAddr, 24), Threads: threads}); err != nil {
		tb.Fatal(err)
	}
	if p.b, err = dstack.New(dstack.Config{Link: pl.B, Addr: netip.PrefixFrom(serverAddr, 24), Threads: threads}); err != nil {
		tb.Fatal(err)
	}
	return p
}

func (p *damselflyPair) listen(port uint16) (net.Listener, error) {
	return p.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, port), 1024)
}

func (p *damselflyPair) dial(ctx context.Context, port uint16) (net.Conn, error) {
	return p.a.DialTCP(ctx, netip.AddrPortFrom(serverAddr, port))
}

func (p *damselflyPair) close() { p.a.Close(); p.b.Close() }

type gvisorPair struct {
	a, b *gstack.Stack
}

func newGStack(tb testing.TB, ep gstack.LinkEndpoint, addr netip.Addr) *gstack.Stack {
	s := gstack.New(gstack.Options{
		NetworkProtocols:   []gstack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []gstack.TransportProtocolFactory{tcp.NewProtocol},
	})
	if err := s.CreateNIC(1, ep); err != nil {
		tb.Fatalf("gvisor CreateNIC: %v", err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4(addr.As4()).WithPrefix()}
	if err := s.AddProtocolAddress(1, pa, gstack.AddressProperties{}); err != nil {
		tb.Fatalf("gvisor AddProtocolAddress: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	// SACK on, as in Damselfly's TCP.
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	return s
}

func newGVisor(tb testing.TB) pair {
	ea, eb := pipe.New("\x02\x00\x00\x00\x00\x0a", "\x02\x00\x00\x00\x00\x0b", 1500)
	return &gvisorPair{a: newGStack(tb, ea, clientAddr), b: newGStack(tb, eb, serverAddr)}
}

func (p *gvisorPair) listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(p.b, tcpip.FullAddress{NIC: 1, Port: port}, ipv4.ProtocolNumber)
}

func (p *gvisorPair) dial(ctx context.Context, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, p.a, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(serverAddr.As4()), Port: port}, ipv4.ProtocolNumber)
}

func (p *gvisorPair) close() { p.a.Close(); p.b.Close() }

// stacks lists what each benchmark runs on.
var stacks = []struct {
	name string
	make func(testing.TB) pair
}{
	{"damselfly-1thread", func(tb testing.TB) pair { return newDamselfly(tb, 1) }},
	{"damselfly-2threads", func(tb testing.TB) pair { return newDamselfly(tb, 2) }},
	{"gvisor", newGVisor},
}
