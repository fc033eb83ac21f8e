package stack

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"damselfly/net/arp"
	"damselfly/net/dhcp"
	"damselfly/net/dns"
	"damselfly/net/ether"
	"damselfly/net/icmp"
	"damselfly/net/ipv4"
	"damselfly/net/link"
	"damselfly/net/tcp"
	"damselfly/net/udp"
)

// proto is one protocol thread's state. Every field is owned by the
// thread: only functions run by p.loop touch it.
type proto struct {
	s     *Stack
	id    int
	loop  Loop
	tcp   *tcp.Stack
	arp   *arp.Cache
	reasm *ipv4.Reassembler
	ctr   counters
	ipID  uint16
	// dhcp and dns are set on thread 0 only.
	dhcp *dhcp.Client
	dns  *dns.Resolver
	// obuf is the output scratch frame: the link does not keep a frame
	// after Send returns, and only this thread writes it.
	obuf []byte
	// off holds what the link finishes for us (checksums, TCP
	// segmentation) and the counters of its use (offload.go).
	off *offload
	// rxFrame is the received frame being processed, while it may still
	// go back to the link (recycle.go); recycler is the link if it takes
	// frames back.
	rxFrame  []byte
	recycler rxRecycler
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// poll runs due timers and returns the next deadline (Loop contract).
func (p *proto) poll() (time.Time, bool) {
	now := p.loop.Now()
	var next time.Time
	have := false
	consider := func(t time.Time, ok bool) {
		if ok && (!have || t.Before(next)) {
			next, have = t, true
		}
	}
	if t, ok := p.tcp.NextDeadline(); ok && !t.After(now) {
		p.tcp.Advance()
	}
	if t, ok := p.arp.NextDeadline(); ok && !t.After(now) {
		p.arp.Advance(now)
	}
	if t, ok := p.reasm.NextDeadline(); ok && !t.After(now) {
		p.reasm.Advance(now)
	}
	if p.dhcp != nil {
		if t, ok := p.dhcp.NextDeadline(); ok && !t.After(now) {
			p.dhcp.Advance(now)
		}
		consider(p.dhcp.NextDeadline())
	}
	if p.dns != nil {
		if t, ok := p.dns.NextDeadline(); ok && !t.After(now) {
			p.dns.Advance(now)
		}
		consider(p.dns.NextDeadline())
	}
	consider(p.tcp.NextDeadline())
	consider(p.arp.NextDeadline())
	consider(p.reasm.NextDeadline())
	return next, have
}

// inputFrame handles one received Ethernet frame.
func (p *proto) inputFrame(b []byte) { p.inputFrameRx(b, link.RSS{}) }

// inputFrameRx handles one received Ethernet frame with what the device
// said about it (rx.ChecksumValid: TCP and UDP checksums already
// verified).
func (p *proto) inputFrameRx(b []byte, rx link.RSS) {
	// b may go back to the link once TCP has consumed it (recycle.go);
	// any path that keeps or hands on part of it clears rxFrame first.
	p.rxFrame = b
	defer func() { p.rxFrame = nil }()
	p.ctr.framesIn++
	p.ctr.bytesIn += uint64(len(b))
	f, err := ether.Parse(b)
	if err != nil {
		p.ctr.drops[dropEtherShort]++
		return
	}
	if d := f.Dst(); d != p.s.mac && !d.IsMulticast() {
		p.ctr.drops[dropNotOurMAC]++
		return
	}
	switch f.Type() {
	case ether.TypeARP:
		p.ctr.arpIn++
		p.arp.Input(f.Payload(), p.loop.Now())
	case ether.TypeIPv4:
		p.inputIP(f.Payload(), rx.ChecksumValid)
	default:
		p.ctr.drops[dropEtherType]++
	}
}

// forUs reports whether dst is an address this host accepts.
func (p *proto) forUs(dst netip.Addr) bool {
	ifc := p.s.iface()
	// Before DHCP binds, accept unicast to any address: the server's
	// OFFER and ACK may be sent to the offered address (RFC 2131 §4.1).
	return dst == ifc.addr || dst == limitedBroadcast || dst == ifc.bcast || ifc.addr.IsUnspecified()
}

// inputIP handles a received datagram; valid says the device verified
// its TCP/UDP checksum.
func (p *proto) inputIP(b []byte, valid bool) {
	h, err := ipv4.Parse(b)
	if err != nil {
		if errors.Is(err, ipv4.ErrChecksum) {
			p.ctr.drops[dropIPChecksum]++
		} else {
			p.ctr.drops[dropIPMalformed]++
		}
		return
	}
	p.ctr.ipIn++
	if !p.forUs(h.Dst()) {
		// A host does not forward (RFC 1122 §3.3.1.5 off by default).
		p.ctr.drops[dropIPNotOurs]++
		return
	}
	if h.IsFragment() {
		p.rxFrame = nil // the reassembler may keep the fragment
		whole, ok := p.reasm.Add(h, p.loop.Now())
		if !ok {
			return
		}
		h = ipv4.Header(whole)
		valid = false // a device checks no transport checksum across fragments
	}
	if owner, ok := p.ownerOf(h); ok && owner != p.id {
		p.handOff(owner, h, valid)
		return
	}
	p.deliverIP(h, valid)
}

// ownerOf returns the thread that owns a TCP or UDP datagram's flow.
func (p *proto) ownerOf(h ipv4.Header) (int, bool) {
	switch h.Protocol() {
	case ipv4.ProtoTCP, ipv4.ProtoUDP:
		pl := h.Payload()
		if len(pl) < 4 {
			return 0, false
		}
		src := netip.AddrPortFrom(h.Src(), binary.BigEndian.Uint16(pl[0:2]))
		dst := netip.AddrPortFrom(h.Dst(), binary.BigEndian.Uint16(pl[2:4]))
		return p.s.owner(src, dst), true
	}
	return 0, false
}

// handOff passes a datagram to the thread that owns it: a cross-thread
// hop, which the partition is designed to make rare.
func (p *proto) handOff(owner int, h ipv4.Header, valid bool) {
	p.rxFrame = nil // h lives on in the other thread
	p.ctr.hopsOut++
	q := p.s.threads[owner]
	q.loop.Post(func() {
		q.ctr.hopsIn++
		q.deliverIP(h, valid)
	})
}

// deliverIP hands a datagram this thread owns to its protocol; valid says
// the device verified its TCP/UDP checksum.
func (p *proto) deliverIP(h ipv4.Header, valid bool) {
	switch h.Protocol() {
	case ipv4.ProtoTCP:
		if valid {
			p.countRxValidated()
			p.tcp.DeliverValidated(h.Src(), h.Dst(), h.Payload())
		} else {
			p.tcp.Deliver(h.Src(), h.Dst(), h.Payload())
		}
		p.recycleRx() // TCP keeps nothing of the segment
	case ipv4.ProtoUDP:
		p.inputUDP(h, valid)
	case ipv4.ProtoICMP:
		p.inputICMP(h)
	default:
		p.ctr.drops[dropProtoUnknown]++
		p.sendError(icmp.TypeDestUnreach, icmp.CodeProtoUnreach, 0, h)
	}
}

func (p *proto) inputICMP(h ipv4.Header) {
	m, err := icmp.Parse(h.Payload())
	if err != nil {
		if errors.Is(err, icmp.ErrChecksum) {
			p.ctr.drops[dropICMPChecksum]++
		} else {
			p.ctr.drops[dropICMPMalformed]++
		}
		return
	}
	p.ctr.icmpIn++
	switch m.Type() {
	case icmp.TypeEchoRequest:
		if h.Dst() != p.s.iface().addr {
			return // no replies to broadcast pings (RFC 1122 §3.2.2.6 permits silence)
		}
		p.ctr.echoReplies++
		p.output(ipv4.ProtoICMP, h.Dst(), h.Src(), icmp.Reply(m), false)
	case icmp.TypeDestUnreach:
		p.ctr.icmpErrIn++
		qh, qp, err := m.Quoted()
		if err != nil || qh.Src() != p.s.iface().addr || qh.Protocol() != ipv4.ProtoTCP {
			return
		}
		kind := tcp.ICMPUnreachable
		if m.Code() == icmp.CodeFragNeeded {
			kind = tcp.ICMPFragNeeded
		}
		src := netip.AddrPortFrom(qh.Src(), binary.BigEndian.Uint16(qp[0:2]))
		dst := netip.AddrPortFrom(qh.Dst(), binary.BigEndian.Uint16(qp[2:4]))
		owner := p.s.owner(src, dst)
		mtu := m.MTU()
		quoted := append([]byte(nil), qp...)
		deliver := func(q *proto) { q.tcp.DeliverICMP(kind, mtu, src.Addr(), dst.Addr(), quoted) }
		if owner == p.id {
			deliver(p)
			return
		}
		p.ctr.hopsOut++
		q := p.s.threads[owner]
		q.loop.Post(func() { q.ctr.hopsIn++; deliver(q) })
	case icmp.TypeTimeExceeded, icmp.TypeParamProblem:
		p.ctr.icmpErrIn++
	}
}

// sendError answers a datagram with an ICMP error where RFC 1122 allows.
func (p *proto) sendError(typ, code uint8, mtu int, h ipv4.Header) {
	bcast := !p.forUsUnicast(h.Dst())
	msg := icmp.Error(typ, code, mtu, h, bcast)
	if msg == nil {
		return
	}
	p.ctr.icmpErrOut++
	p.output(ipv4.ProtoICMP, p.s.iface().addr, h.Src(), msg, false)
}

func (p *proto) forUsUnicast(dst netip.Addr) bool { return dst == p.s.iface().addr }

// hostUnreachable is told by ARP about packets whose next hop never
// answered; a locally generated packet has no one to send ICMP to, so
// this only counts.
func (p *proto) hostUnreachable([]byte) { p.ctr.drops[dropLinkError]++ }

// nextHop routes dst: on-link, broadcast, or via the gateway.
func (p *proto) nextHop(dst netip.Addr) (netip.Addr, bool) {
	ifc := p.s.iface()
	switch {
	case dst == limitedBroadcast || dst == ifc.bcast:
		return dst, true
	case ifc.subnet.IsValid() && ifc.subnet.Contains(dst):
		return dst, true
	case ifc.gateway.IsValid():
		return ifc.gateway, true
	}
	return netip.Addr{}, false
}

// outputTCP is tcp.Config.Output: seg is valid only during the call.
func (p *proto) outputTCP(src, dst netip.Addr, seg []byte) {
	p.output(ipv4.ProtoTCP, src, dst, seg, true)
}

// output sends one IPv4 datagram carrying payload, fragmenting it if it
// exceeds the MTU and df is clear. payload is not kept.
func (p *proto) output(proto uint8, src, dst netip.Addr, payload []byte, df bool) {
	nh, ok := p.nextHop(dst)
	if !ok {
		p.ctr.drops[dropLinkError]++
		return
	}
	n := ether.HeaderLen + ipv4.MinHeaderLen + len(payload)
	if cap(p.obuf) < n {
		p.obuf = make([]byte, max(n, ether.HeaderLen+p.s.mtu))
	}
	buf := p.obuf[:n]
	p.ipID += uint16(len(p.s.threads))
	ipv4.Encode(buf[ether.HeaderLen:], ipv4.Fields{ID: p.ipID, DF: df, Protocol: proto, Src: src, Dst: dst}, len(payload))
	copy(buf[ether.HeaderLen+ipv4.MinHeaderLen:], payload)
	p.ctr.ipOut++
	if n-ether.HeaderLen <= p.s.mtu {
		p.sendIP(buf, nh)
		return
	}
	frags, err := ipv4.Fragment(buf[ether.HeaderLen:], p.s.mtu)
	if err != nil {
		p.ctr.drops[dropTooBig]++
		return
	}
	for _, f := range frags {
		p.ctr.fragsOut++
		fb := make([]byte, ether.HeaderLen+len(f))
		copy(fb[ether.HeaderLen:], f)
		p.sendIP(fb, nh)
	}
}

// sendIP sends the datagram at buf[ether.HeaderLen:] to next hop nh,
// writing the Ethernet header into the headroom when nh is resolved.
func (p *proto) sendIP(buf []byte, nh netip.Addr) {
	if nh == limitedBroadcast || nh == p.s.iface().bcast {
		ether.Encode(buf, ether.Broadcast, p.s.mac, ether.TypeIPv4)
		p.sendFrame(buf)
		return
	}
	now := p.loop.Now()
	if mac, ok := p.arp.Lookup(nh, now); ok {
		p.arp.Stats.Hits++
		ether.Encode(buf, mac, p.s.mac, ether.TypeIPv4)
		p.sendFrame(buf)
		return
	}
	p.arp.Resolve(nh, buf[ether.HeaderLen:], now)
}

// sendResolved is the ARP cache's Deliver: a queued datagram whose next
// hop just resolved.
func (p *proto) sendResolved(dst ether.MAC, pkt []byte) {
	f := make([]byte, ether.HeaderLen+len(pkt))
	ether.Encode(f, dst, p.s.mac, ether.TypeIPv4)
	copy(f[ether.HeaderLen:], pkt)
	p.sendFrame(f)
}

func (p *proto) sendFrame(f []byte) {
	p.ctr.framesOut++
	p.ctr.bytesOut += uint64(len(f))
	if err := p.s.link.Send(f); err != nil {
		p.ctr.drops[dropLinkError]++
	}
}

func (p *proto) inputUDP(h ipv4.Header, valid bool) {
	parse := udp.Parse
	if valid {
		p.countRxValidated()
		parse = udp.ParseValidated
	}
	d, err := parse(h.Payload(), h.Src(), h.Dst())
	if err != nil {
		if errors.Is(err, udp.ErrChecksum) {
			p.ctr.drops[dropUDPChecksum]++
		} else {
			p.ctr.drops[dropUDPMalformed]++
		}
		return
	}
	p.ctr.udpIn++
	s := p.s
	s.portsMu.Lock()
	c := s.udpSocks[d.DstPort()]
	s.portsMu.Unlock()
	if c == nil {
		p.ctr.drops[dropUDPNoPort]++
		p.sendError(icmp.TypeDestUnreach, icmp.CodePortUnreach, 0, h)
		return
	}
	from := netip.AddrPortFrom(h.Src(), d.SrcPort())
	if !c.deliver(from, append([]byte(nil), d.Payload()...)) {
		p.ctr.drops[dropUDPQueueFull]++
	}
}
