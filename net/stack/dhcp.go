package stack

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"sync"

	"damselfly/net/dhcp"
	"damselfly/net/ipv4"
	"damselfly/net/udp"
)

// dhcpGlue runs the DHCP client on thread 0: replies to port 68 arrive
// on whichever thread received them and are posted to thread 0; the lease
// replaces the stack's interface configuration.
type dhcpGlue struct {
	s         *Stack
	p         *proto
	c         *dhcp.Client
	readyOnce sync.Once
}

func cryptoRand32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func (s *Stack) startDHCP() {
	p := s.threads[0]
	g := &dhcpGlue{s: s, p: p}
	g.c = &dhcp.Client{MAC: s.mac, Rand: cryptoRand32, Send: g.send, OnLease: g.bound, OnExpire: g.expired}
	s.portsMu.Lock()
	s.udpSocks[dhcp.ClientPort] = g
	s.portsMu.Unlock()
	p.loop.Post(func() {
		p.dhcp = g.c
		g.c.Start(s.cfg.Now())
	})
}

// deliver runs on the receiving thread.
func (g *dhcpGlue) deliver(_ netip.AddrPort, data []byte) bool {
	g.p.loop.Post(func() { g.c.Input(data, g.s.cfg.Now()) })
	return true
}

// send runs on thread 0 (called by the client).
func (g *dhcpGlue) send(dst netip.Addr, msg []byte) {
	src := g.s.iface().addr
	d := udp.Build(netip.AddrPortFrom(src, dhcp.ClientPort), netip.AddrPortFrom(dst, dhcp.ServerPort), msg)
	g.p.ctr.udpOut++
	g.p.output(ipv4.ProtoUDP, src, dst, d, false)
}

// bound runs on thread 0 when a lease is bound or renewed.
func (g *dhcpGlue) bound(l dhcp.Lease) {
	var gw netip.Addr
	if len(l.Routers) > 0 {
		gw = l.Routers[0]
	}
	old := g.s.iface()
	g.s.ifc.Store(newIface(l.Addr, gw, l.DNS))
	if old.addr != l.Addr.Addr() {
		g.setARPAddr(l.Addr.Addr())
		g.p.arp.Announce()
	}
	g.readyOnce.Do(func() { close(g.s.ready) })
}

func (g *dhcpGlue) expired() {
	g.s.ifc.Store(&iface{addr: netip.IPv4Unspecified()})
	g.setARPAddr(netip.IPv4Unspecified())
}

// setARPAddr updates every thread's ARP replica; thread 0's at once.
func (g *dhcpGlue) setARPAddr(a netip.Addr) {
	g.p.arp.IP = a
	for _, q := range g.s.threads[1:] {
		q.loop.Post(func() { q.arp.IP = a })
	}
}
