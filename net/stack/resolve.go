package stack

import (
	"context"
	"fmt"
	"net/netip"

	"damselfly/net/dns"
	"damselfly/net/ipv4"
	"damselfly/net/udp"
)

// resolverGlue runs the DNS stub resolver on thread 0 with its own UDP
// port; answers are posted to thread 0 from whichever thread got them.
type resolverGlue struct {
	s    *Stack
	p    *proto
	r    *dns.Resolver
	port uint16
}

func (s *Stack) startResolver() error {
	p := s.threads[0]
	g := &resolverGlue{s: s, p: p}
	g.r = &dns.Resolver{Rand: cryptoRand32, Send: g.send}
	s.portsMu.Lock()
	for i := 0; i <= ephemeralHigh-ephemeralLow; i++ {
		cand := uint16(ephemeralLow + (int(cryptoRand32())+i)%(ephemeralHigh-ephemeralLow+1))
		if s.udpSocks[cand] == nil {
			g.port = cand
			break
		}
	}
	if g.port != 0 {
		s.udpSocks[g.port] = g
	}
	s.portsMu.Unlock()
	if g.port == 0 {
		return fmt.Errorf("stack: no UDP port for the resolver")
	}
	s.resolver = g
	p.loop.Post(func() { p.dns = g.r })
	return nil
}

func (g *resolverGlue) deliver(_ netip.AddrPort, data []byte) bool {
	g.p.loop.Post(func() { g.r.Input(data, g.s.cfg.Now()) })
	return true
}

func (g *resolverGlue) send(server netip.Addr, q []byte) {
	src := netip.AddrPortFrom(g.s.iface().addr, g.port)
	d := udp.Build(src, netip.AddrPortFrom(server, dns.Port), q)
	g.p.ctr.udpOut++
	g.p.output(ipv4.ProtoUDP, src.Addr(), server, d, false)
}

// LookupHost resolves name to IPv4 addresses with the configured (or
// DHCP-supplied) DNS servers. IP literals are returned as they are.
func (s *Stack) LookupHost(ctx context.Context, name string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	g := s.resolver
	ch := make(chan dns.Result, 1)
	g.p.loop.Post(func() {
		g.r.Servers = s.iface().dns
		g.r.Lookup(name, s.cfg.Now(), func(r dns.Result) { ch <- r })
	})
	select {
	case r := <-ch:
		return r.Addrs, r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("stack: lookup %s: %w", name, ctx.Err())
	}
}
