package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"damselfly/net/link"
	dstack "damselfly/net/stack"
	dtcp "damselfly/net/tcp"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// The settings both sides share, so that a difference in the figures is a
// difference in the stacks and not in their tuning.
const (
	MTU     = 1500    // IP MTU of the in-memory link
	BufSize = 1 << 20 // per-connection send and receive buffer (both stacks' default)
)

// Pair is a client stack and a server stack in this process joined by an
// in-memory link. Listen opens on the server, Dial connects from the client.
type Pair interface {
	Listen(port uint16) (net.Listener, error)
	Dial(ctx context.Context, port uint16) (net.Conn, error)
	Close()
}

var (
	clientAddr = netip.MustParseAddr("10.0.0.1")
	serverAddr = netip.MustParseAddr("10.0.0.2")
)

// Stack names a Pair constructor; Stacks is what every benchmark runs on,
// in the order the tables print.
type Stack struct {
	Name string
	New  func() (Pair, error)
}

var Stacks = []Stack{
	{"damselfly-1thread", func() (Pair, error) { return NewDamselfly(1) }},
	{"damselfly-2threads", func() (Pair, error) { return NewDamselfly(2) }},
	{"gvisor", NewGVisor},
}

// damselflyPair is two net/stack instances over a link.Pipe: Ethernet
// frames, ARP, IPv4 and TCP with checksums computed on send and verified
// on receive in software, one protocol goroutine per thread.
type damselflyPair struct {
	a, b *dstack.Stack
}

// NewDamselfly returns a pair of Damselfly stacks with threads protocol
// threads each, over a pipe with no impairments (frames are handed over
// synchronously inside Send).
func NewDamselfly(threads int) (Pair, error) {
	pl := link.NewPipe(link.PipeConfig{MTU: MTU})
	tune := func(c *dtcp.Config) {
		c.SendBufSize, c.RecvBufSize = BufSize, BufSize
		c.Congestion = "cubic"
	}
	a, err := dstack.New(dstack.Config{Link: pl.A, Addr: netip.PrefixFrom(clientAddr, 24), Threads: threads, TCP: tune})
	if err != nil {
		return nil, fmt.Errorf("bench: damselfly client stack: %w", err)
	}
	b, err := dstack.New(dstack.Config{Link: pl.B, Addr: netip.PrefixFrom(serverAddr, 24), Threads: threads, TCP: tune})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("bench: damselfly server stack: %w", err)
	}
	return &damselflyPair{a: a, b: b}, nil
}

func (p *damselflyPair) Listen(port uint16) (net.Listener, error) {
	l, err := p.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, port), 1024)
	if err != nil {
		return nil, err
	}
	return noDelayListener{l}, nil
}

func (p *damselflyPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	c, err := p.a.DialTCP(ctx, netip.AddrPortFrom(serverAddr, port))
	if err != nil {
		return nil, err
	}
	c.SetNoDelay(true)
	return c, nil
}

func (p *damselflyPair) Close() { p.a.Close(); p.b.Close() }

// noDelayListener turns Nagle off on accepted Damselfly connections, as
// gVisor's stack-wide TCPDelayEnabled(false) does for its side.
type noDelayListener struct{ *dstack.TCPListener }

func (l noDelayListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	c.SetNoDelay(true)
	return c, nil
}

// gvisorPair is two gVisor stack.Stack instances joined by link/pipe:
// IPv4 and TCP, no link header and no ARP (pipe needs no resolution),
// checksums computed and verified in software (pipe advertises no
// offload capabilities).
type gvisorPair struct {
	a, b *gstack.Stack
}

func newGStack(ep gstack.LinkEndpoint, addr netip.Addr) (*gstack.Stack, error) {
	s := gstack.New(gstack.Options{
		NetworkProtocols:   []gstack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []gstack.TransportProtocolFactory{tcp.NewProtocol},
	})
	if err := s.CreateNIC(1, ep); err != nil {
		s.Close()
		return nil, fmt.Errorf("bench: gvisor CreateNIC: %v", err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4(addr.As4()).WithPrefix()}
	if err := s.AddProtocolAddress(1, pa, gstack.AddressProperties{}); err != nil {
		s.Close()
		return nil, fmt.Errorf("bench: gvisor AddProtocolAddress: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	// The same TCP features and sizes as the Damselfly side.
	opts := []tcpip.SettableTransportProtocolOption{
		ptr(tcpip.TCPSACKEnabled(true)),
		ptr(tcpip.CongestionControlOption("cubic")),
		ptr(tcpip.TCPDelayEnabled(false)), // Nagle off
		ptr(tcpip.TCPModerateReceiveBufferOption(false)),
		&tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: BufSize, Max: BufSize},
		&tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: BufSize, Max: BufSize},
	}
	for _, o := range opts {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			s.Close()
			return nil, fmt.Errorf("bench: gvisor option %T: %v", o, err)
		}
	}
	return s, nil
}

func ptr[T any](v T) *T { return &v }

// NewGVisor returns a pair of gVisor netstacks over link/pipe.
func NewGVisor() (Pair, error) {
	ea, eb := pipe.New("\x02\x00\x00\x00\x00\x0a", "\x02\x00\x00\x00\x00\x0b", MTU)
	a, err := newGStack(ea, clientAddr)
	if err != nil {
		return nil, err
	}
	b, err := newGStack(eb, serverAddr)
	if err != nil {
		a.Close()
		return nil, err
	}
	return &gvisorPair{a: a, b: b}, nil
}

func (p *gvisorPair) Listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(p.b, tcpip.FullAddress{NIC: 1, Port: port}, ipv4.ProtocolNumber)
}

func (p *gvisorPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, p.a, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(serverAddr.As4()), Port: port}, ipv4.ProtocolNumber)
}

func (p *gvisorPair) Close() {
	p.a.Close()
	p.b.Close()
	p.a.Wait()
	p.b.Wait()
}
