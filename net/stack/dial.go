package stack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Dial connects like net.Dialer.DialContext, for http.Transport.DialContext
// and similar hooks: network "tcp" or "tcp4", address "host:port"; names
// are resolved with LookupHost.
func (s *Stack) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("stack: dial %s: unsupported network", network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("stack: dial %s: %w", address, err)
	}
	port, err := net.LookupPort("tcp", portStr)
	if err != nil {
		return nil, fmt.Errorf("stack: dial %s: %w", address, err)
	}
	addrs, err := s.LookupHost(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("stack: dial %s: %w", address, err)
	}
	c, err := s.DialTCP(ctx, netip.AddrPortFrom(addrs[0], uint16(port)))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Listen is net.Listen for this stack: network "tcp", address ":port" or
// "ip:port".
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("stack: listen %s: unsupported network", network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	ip := netip.IPv4Unspecified()
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return nil, err
		}
	}
	pn, err := net.LookupPort("tcp", port)
	if err != nil {
		return nil, err
	}
	return s.ListenTCP(netip.AddrPortFrom(ip, uint16(pn)), 0)
}

var (
	_ net.Conn       = (*TCPConn)(nil)
	_ net.Listener   = (*TCPListener)(nil)
	_ net.PacketConn = (*UDPConn)(nil)
)
