package stack

// Checksum offload and TSO between the protocol threads and a link that
// offers them (link.Offloader: virtio-net with CSUM/HOST_TSO4, or
// link.Pipe with its software finisher in tests).
//
// Transmit: each thread's tcp.Stack is told at creation what the link
// finishes; its segments then arrive at outputTCPOffload with the
// checksum field holding the pseudo-header sum, and TSO segments of up to
// 64 KiB with the MSS to cut them into. outputTCPOffload adds the IPv4
// and Ethernet headers and hands the frame to SendOffload with the
// virtio-net header's csum_start/csum_offset and gso fields. A datagram
// whose next hop is not resolved yet cannot wait in the ARP queue as an
// offload request (that queue ends in a plain Send), so it is finished in
// software first (link.FinishOffload) and counted.
//
// Receive: a frame the device marked (link.RSS.ChecksumValid) skips the
// TCP or UDP checksum pass; the IPv4 header checksum is always checked.
//
// UDP datagrams are still checksummed in software on transmit (they are
// built by the socket layer).

import (
	"net/netip"
	"sync/atomic"

	"damselfly/net/ether"
	"damselfly/net/ipv4"
	"damselfly/net/link"
	"damselfly/net/tcp"

	"damselfly/internal/chunkcopy"
)

// offload is a thread's view of the link's offloads. The counters are
// written by the owning thread only and read by OffloadStats from any
// goroutine, hence atomics.
type offload struct {
	ol   link.Offloader
	caps link.Offloads
	// batch is ol when it can hold back its doorbell (virtio-net): TCP
	// frames are added without one and the thread rings it once at the
	// end of its turn (Loop.turnDone).
	batch txBatcher

	txCsum      atomic.Uint64 // frames the link took with a partial checksum (GSO frames included)
	txGSO       atomic.Uint64 // GSO frames the link took
	txGSOSegs   atomic.Uint64 // segments those frames carry
	txSoftware  atomic.Uint64 // requests finished in software (next hop unresolved)
	txErrors    atomic.Uint64 // SendOffload failed (ring full, refused) or software finishing failed
	rxValidated atomic.Uint64 // TCP/UDP datagrams whose checksum the device verified
}

// OffloadStats counts one thread's use of the link's offloads (or the
// sum over threads).
type OffloadStats struct {
	// Csum and TSO say what the link offers.
	Csum, TSO bool
	// TxCsumFrames: frames the link took with a partial checksum, GSO
	// frames included; TxGSOFrames those that also asked for TSO, and
	// TxGSOSegments the wire segments they carry.
	TxCsumFrames, TxGSOFrames, TxGSOSegments uint64
	// TxSoftware: requests finished in software because the next hop
	// was not resolved; TxErrors: frames the link did not take (a full
	// ring, a refused request); TCP retransmits them.
	TxSoftware, TxErrors uint64
	// RxValidated: TCP and UDP datagrams whose checksum the device had
	// verified, so the stack skipped it.
	RxValidated uint64
}

// txBatcher is a link.Offloader that can add frames without notifying
// the device (each notification is a VM exit): vnet.Device. FlushTx
// notifies for everything added so far.
type txBatcher interface {
	SendOffloadDeferred(frame []byte, o link.TxOffload) error
	FlushTx()
}

// flushTx rings the link's deferred doorbell; thread only.
func (o *offload) flushTx() {
	if o.batch != nil {
		o.batch.FlushTx()
	}
}

// setupOffload tells thread p's TCP what the link finishes; a
// Config.TCP hook may still turn it off (tc.Offload = tcp.Offload{}).
func (p *proto) setupOffload(tc *tcp.Config) {
	p.off = &offload{}
	ol, ok := p.s.link.(link.Offloader)
	if !ok {
		return
	}
	caps := ol.OffloadCaps()
	if !caps.Csum {
		return
	}
	p.off.ol, p.off.caps = ol, caps
	if b, ok := ol.(txBatcher); ok {
		p.off.batch = b
		p.loop.turnDone = p.off.flushTx
	}
	tc.Offload.Checksum = true
	if caps.TSO4 {
		tc.Offload.TSOMax = caps.MaxGSODatagram() - ipv4.MinHeaderLen
		// The peer's GRO acknowledges a TSO frame with one ACK: let it
		// count for the frame's segments in slow start (tcp.Config).
		tc.SlowStartL = tc.Offload.TSOMax / (p.s.mtu - ipv4.MinHeaderLen - tcp.HeaderMinLen)
	}
	tc.OutputOffload = p.outputTCPOffload
	// Segments are built behind room for our headers, so the frame is
	// finished in place (no copy of the segment).
	tc.OutputOffloadFrame = p.outputTCPOffloadFrame
	tc.Headroom = ether.HeaderLen + ipv4.MinHeaderLen
}

func (p *proto) countRxValidated() {
	if p.off != nil {
		p.off.rxValidated.Add(1)
	}
}

// outputTCPOffload is tcp.Config.OutputOffload: seg's checksum field
// holds the pseudo-header sum; gso > 0 asks the link to cut the payload
// into gso-byte segments. seg is valid only during the call. It copies
// seg behind the headers; TCP's own segments take outputTCPOffloadFrame.
func (p *proto) outputTCPOffload(src, dst netip.Addr, seg []byte, gso int) {
	const hl = ether.HeaderLen + ipv4.MinHeaderLen
	n := hl + len(seg)
	if cap(p.obuf) < n {
		p.obuf = make([]byte, max(n, ether.HeaderLen+p.s.mtu))
	}
	buf := p.obuf[:n]
	chunkcopy.Copy(buf[hl:], seg)
	p.outputTCPOffloadFrame(src, dst, buf, hl, gso)
}

// outputTCPOffloadFrame is tcp.Config.OutputOffloadFrame: the segment is
// frame[off:], and the Ethernet and IPv4 headers are written in the
// headroom right before it. frame is valid only during the call.
func (p *proto) outputTCPOffloadFrame(src, dst netip.Addr, frame []byte, off, gso int) {
	const hl = ether.HeaderLen + ipv4.MinHeaderLen
	if off < hl {
		p.ctr.drops[dropLinkError]++ // headroom too small: a configuration bug
		return
	}
	buf := frame[off-hl:]
	seg := buf[hl:]
	nh, ok := p.nextHop(dst)
	if !ok || nh == limitedBroadcast || nh == p.s.iface().bcast {
		p.ctr.drops[dropLinkError]++ // TCP is never broadcast (RFC 1122 §4.2.3.10)
		return
	}
	n := len(buf)
	if gso == 0 && n-ether.HeaderLen > p.s.mtu {
		p.ctr.drops[dropTooBig]++
		return
	}
	p.ipID += uint16(len(p.s.threads))
	ipv4.Encode(buf[ether.HeaderLen:], ipv4.Fields{ID: p.ipID, DF: true, Protocol: ipv4.ProtoTCP, Src: src, Dst: dst}, len(seg))
	p.ctr.ipOut++
	o := link.TxOffload{Csum: true, CsumStart: hl, CsumOffset: 16}
	if gso > 0 {
		o.GSOType, o.GSOSize = link.GSOTCPv4, uint16(gso)
		o.HdrLen = uint16(hl + tcp.Header(seg).DataOffset())
	}
	now := p.loop.Now()
	mac, ok := p.arp.Lookup(nh, now)
	if !ok {
		// The ARP queue ends in a plain Send: finish the frame here.
		p.off.txSoftware.Add(1)
		err := link.FinishOffload(buf, o, func(f []byte) { p.arp.Resolve(nh, f[ether.HeaderLen:], now) })
		if err != nil {
			p.off.txErrors.Add(1)
			p.ctr.drops[dropLinkError]++
		}
		return
	}
	p.arp.Stats.Hits++
	ether.Encode(buf, mac, p.s.mac, ether.TypeIPv4)
	p.ctr.framesOut++
	p.ctr.bytesOut += uint64(n)
	send := p.off.ol.SendOffload
	if p.off.batch != nil {
		send = p.off.batch.SendOffloadDeferred
	}
	if err := send(buf, o); err != nil {
		p.off.txErrors.Add(1)
		p.ctr.drops[dropLinkError]++
		return
	}
	p.off.txCsum.Add(1)
	if gso > 0 {
		pl := len(seg) - tcp.Header(seg).DataOffset()
		p.off.txGSO.Add(1)
		p.off.txGSOSegs.Add(uint64((pl + gso - 1) / gso))
	}
}

// snapshot reads the counters (any goroutine).
func (o *offload) snapshot() OffloadStats {
	if o == nil {
		return OffloadStats{}
	}
	return OffloadStats{
		Csum: o.caps.Csum, TSO: o.caps.TSO4,
		TxCsumFrames: o.txCsum.Load(), TxGSOFrames: o.txGSO.Load(), TxGSOSegments: o.txGSOSegs.Load(),
		TxSoftware: o.txSoftware.Load(), TxErrors: o.txErrors.Load(), RxValidated: o.rxValidated.Load(),
	}
}

// OffloadStats returns each thread's offload counters and their sum.
func (s *Stack) OffloadStats() (perThread []OffloadStats, total OffloadStats) {
	for _, p := range s.threads {
		st := p.off.snapshot()
		perThread = append(perThread, st)
		total.Csum, total.TSO = st.Csum, st.TSO
		total.TxCsumFrames += st.TxCsumFrames
		total.TxGSOFrames += st.TxGSOFrames
		total.TxGSOSegments += st.TxGSOSegments
		total.TxSoftware += st.TxSoftware
		total.TxErrors += st.TxErrors
		total.RxValidated += st.RxValidated
	}
	return perThread, total
}
