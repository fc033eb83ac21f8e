package stack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"damselfly/net/ipv4"
	"damselfly/net/udp"
)

// maxUDPPayload is the largest datagram IPv4 can carry.
const maxUDPPayload = 65535 - ipv4.MinHeaderLen - udp.HeaderLen

// udpReceiver takes datagrams for a bound port, on the receiving thread.
type udpReceiver interface {
	deliver(from netip.AddrPort, data []byte) bool
}

type datagram struct {
	from netip.AddrPort
	data []byte
}

// UDPConn is a bound UDP socket. It implements net.PacketConn. Received
// datagrams are queued by whichever thread received them (under mu);
// sends are posted to the thread owning the (local, remote) flow, so a
// socket's traffic with one peer stays on one thread.
type UDPConn struct {
	s     *Stack
	local netip.AddrPort

	mu     sync.Mutex // guards q
	q      []datagram
	wake   chan struct{}
	rdl    deadline
	closed chan struct{}
	once   sync.Once
}

// ListenUDP binds a UDP socket to local (port 0: an ephemeral port).
func (s *Stack) ListenUDP(local netip.AddrPort) (*UDPConn, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	c := &UDPConn{s: s, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	s.portsMu.Lock()
	defer s.portsMu.Unlock()
	port := local.Port()
	if port == 0 {
		for i := 0; i <= ephemeralHigh-ephemeralLow; i++ {
			cand := uint16(ephemeralLow + (int(s.nextEph)+i)%(ephemeralHigh-ephemeralLow+1))
			if s.udpSocks[cand] == nil {
				port = cand
				break
			}
		}
		if port == 0 {
			return nil, errors.New("stack: no free UDP port")
		}
	}
	if s.udpSocks[port] != nil {
		return nil, fmt.Errorf("stack: udp port %d: address in use", port)
	}
	addr := local.Addr()
	if !addr.IsValid() || addr.IsUnspecified() {
		addr = s.iface().addr
	}
	c.local = netip.AddrPortFrom(addr, port)
	s.udpSocks[port] = c
	return c, nil
}

// deliver runs on a protocol thread.
func (c *UDPConn) deliver(from netip.AddrPort, data []byte) bool {
	c.mu.Lock()
	if len(c.q) >= c.s.cfg.UDPQueue {
		c.mu.Unlock()
		return false
	}
	c.q = append(c.q, datagram{from, data})
	c.mu.Unlock()
	signal(c.wake)
	return true
}

// ReadFromUDPAddrPort receives one datagram; excess bytes are discarded
// as with a BSD socket.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		select {
		case <-c.closed:
			return 0, netip.AddrPort{}, c.opErr("read", net.ErrClosed)
		default:
		}
		c.mu.Lock()
		if len(c.q) > 0 {
			d := c.q[0]
			c.q[0] = datagram{}
			c.q = c.q[1:]
			more := len(c.q) > 0
			c.mu.Unlock()
			if more {
				signal(c.wake)
			}
			return copy(b, d.data), d.from, nil
		}
		c.mu.Unlock()
		if c.rdl.expired() {
			return 0, netip.AddrPort{}, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if err := c.rdl.wait(c.wake, c.closed, c.s.down, net.ErrClosed); err != nil {
			return 0, netip.AddrPort{}, c.opErr("read", err)
		}
	}
}

// WriteToUDPAddrPort sends b to dst. The send is asynchronous: a copy of
// the datagram goes in a udpSendMsg to the thread owning the flow, whose
// reply (nothing to report: output failures are counted as drops) goes to
// the stack's sink port, like lwkt_sendmsg for data.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, dst netip.AddrPort) (int, error) {
	select {
	case <-c.closed:
		return 0, c.opErr("write", net.ErrClosed)
	default:
	}
	if len(b) > maxUDPPayload {
		return 0, c.opErr("write", errors.New("message too long"))
	}
	if !dst.Addr().Is4() {
		return 0, c.opErr("write", errors.New("not an IPv4 address"))
	}
	src := c.local
	if src.Addr().IsUnspecified() {
		// Bound before DHCP gave us an address: send from the current one.
		src = netip.AddrPortFrom(c.s.iface().addr, src.Port())
	}
	m := &udpSendMsg{src: src, dst: dst, d: udp.Build(src, dst, b)}
	m.Init(m, c.s.sink, 0)
	c.s.post(c.s.threads[c.s.owner(src, dst)], m)
	return len(b), nil
}

func (c *UDPConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: net.UDPAddrFromAddrPort(c.local), Err: err}
}

// ReadFrom implements net.PacketConn.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteTo implements net.PacketConn.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opErr("write", fmt.Errorf("address %v is not UDP", addr))
	}
	ap := ua.AddrPort()
	return c.WriteToUDPAddrPort(b, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// Close unbinds the socket.
func (c *UDPConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.s.portsMu.Lock()
		if r, ok := c.s.udpSocks[c.local.Port()].(*UDPConn); ok && r == c {
			delete(c.s.udpSocks, c.local.Port())
		}
		c.s.portsMu.Unlock()
	})
	return nil
}

func (c *UDPConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.local) }

// SetDeadline sets the read deadline; writes never block.
func (c *UDPConn) SetDeadline(t time.Time) error      { c.rdl.set(t); return nil }
func (c *UDPConn) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *UDPConn) SetWriteDeadline(t time.Time) error { return nil }
