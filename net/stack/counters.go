package stack

import (
	"reflect"

	"damselfly/net/arp"
	"damselfly/net/ipv4"
	"damselfly/net/tcp"
)

// Drop reasons counted per thread.
type dropReason uint8

const (
	dropEtherShort dropReason = iota
	dropEtherType
	dropNotOurMAC
	dropIPMalformed
	dropIPChecksum
	dropIPNotOurs
	dropReassembly
	dropICMPMalformed
	dropICMPChecksum
	dropUDPMalformed
	dropUDPChecksum
	dropUDPNoPort
	dropUDPQueueFull
	dropProtoUnknown
	dropLinkError
	dropTooBig
	dropAcceptOverflow
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"ether-short", "ether-type", "not-our-mac", "ip-malformed", "ip-checksum", "ip-not-ours",
	"ip-reassembly", "icmp-malformed", "icmp-checksum", "udp-malformed", "udp-checksum",
	"udp-no-port", "udp-queue-full", "proto-unknown", "link-error", "too-big", "accept-overflow",
}

// counters are a thread's own, written only by that thread.
type counters struct {
	framesIn, framesOut, bytesIn, bytesOut uint64
	hopsIn, hopsOut                        uint64
	ipIn, ipOut, fragsOut                  uint64
	icmpIn, icmpOut, echoReplies           uint64
	icmpErrIn, icmpErrOut                  uint64
	udpIn, udpOut                          uint64
	arpIn                                  uint64
	splices, spliceBytes                   uint64
	rxRecycled                             uint64
	drops                                  [numDropReasons]uint64
}

// ThreadStats is a snapshot of one protocol thread's counters.
type ThreadStats struct {
	Thread                                 int
	FramesIn, FramesOut, BytesIn, BytesOut uint64
	// HopsIn counts packets this thread received from another thread that
	// had them first; HopsOut those it handed on (cross-CPU hops).
	HopsIn, HopsOut       uint64
	IPIn, IPOut, FragsOut uint64
	ICMPIn, ICMPOut       uint64
	EchoReplies           uint64
	ICMPErrorsIn          uint64
	ICMPErrorsOut         uint64
	UDPIn, UDPOut         uint64
	ARPIn                 uint64
	// MsgInline counts socket DoMsgs the thread's port completed in the
	// caller's context (an LWKT caller on the same CPU while the thread
	// waited: no switch); MsgQueued the socket messages queued for it.
	MsgInline, MsgQueued uint64
	// Splices counts TCPConn.ReadFrom copies done on the thread
	// (splice.go), SpliceBytes the bytes they moved.
	Splices, SpliceBytes uint64
	// RxRecycled counts received frames handed back to the link after
	// TCP consumed them (recycle.go).
	RxRecycled     uint64
	ChecksumErrors uint64 // IP, ICMP, UDP and TCP together
	Drops          map[string]uint64
	ARP            arp.Counters
	Reassembly     ipv4.ReassemblyStats
	TCP            tcp.Stats
}

// Stats is a snapshot of the whole stack: per thread and summed.
type Stats struct {
	Threads []ThreadStats
	Total   ThreadStats
}

func (p *proto) snapshot() ThreadStats {
	c := &p.ctr
	st := ThreadStats{
		Thread: p.id, FramesIn: c.framesIn, FramesOut: c.framesOut, BytesIn: c.bytesIn, BytesOut: c.bytesOut,
		HopsIn: c.hopsIn, HopsOut: c.hopsOut, IPIn: c.ipIn, IPOut: c.ipOut, FragsOut: c.fragsOut,
		ICMPIn: c.icmpIn, ICMPOut: c.icmpOut, EchoReplies: c.echoReplies, ICMPErrorsIn: c.icmpErrIn,
		ICMPErrorsOut: c.icmpErrOut, UDPIn: c.udpIn, UDPOut: c.udpOut, ARPIn: c.arpIn,
		Splices: c.splices, SpliceBytes: c.spliceBytes, RxRecycled: c.rxRecycled,
		Drops: map[string]uint64{}, ARP: p.arp.Stats, Reassembly: p.reasm.Stats, TCP: p.tcp.Stats(),
	}
	st.MsgInline, st.MsgQueued = p.loop.Counters()
	for r, n := range c.drops {
		if n != 0 {
			st.Drops[dropNames[r]] = n
		}
	}
	st.ChecksumErrors = c.drops[dropIPChecksum] + c.drops[dropICMPChecksum] + c.drops[dropUDPChecksum] + st.TCP.ChecksumErrors
	return st
}

// add sums b into a (for Stats.Total); TCP counters are summed field by
// field for the ones a status page shows.
func (a *ThreadStats) add(b ThreadStats) {
	a.FramesIn += b.FramesIn
	a.FramesOut += b.FramesOut
	a.BytesIn += b.BytesIn
	a.BytesOut += b.BytesOut
	a.HopsIn += b.HopsIn
	a.HopsOut += b.HopsOut
	a.IPIn += b.IPIn
	a.IPOut += b.IPOut
	a.FragsOut += b.FragsOut
	a.ICMPIn += b.ICMPIn
	a.ICMPOut += b.ICMPOut
	a.EchoReplies += b.EchoReplies
	a.ICMPErrorsIn += b.ICMPErrorsIn
	a.ICMPErrorsOut += b.ICMPErrorsOut
	a.UDPIn += b.UDPIn
	a.UDPOut += b.UDPOut
	a.ARPIn += b.ARPIn
	a.MsgInline += b.MsgInline
	a.MsgQueued += b.MsgQueued
	a.Splices += b.Splices
	a.SpliceBytes += b.SpliceBytes
	a.RxRecycled += b.RxRecycled
	a.ChecksumErrors += b.ChecksumErrors
	if a.Drops == nil {
		a.Drops = map[string]uint64{}
	}
	for k, v := range b.Drops {
		a.Drops[k] += v
	}
	r, q := &a.ARP, b.ARP
	r.Requests += q.Requests
	r.Replies += q.Replies
	r.RepliesSent += q.RepliesSent
	r.Gratuitous += q.Gratuitous
	r.Hits += q.Hits
	r.Misses += q.Misses
	r.Queued += q.Queued
	r.QueueDrops += q.QueueDrops
	r.Timeouts += q.Timeouts
	r.Evictions += q.Evictions
	r.Malformed += q.Malformed
	ra, rb := &a.Reassembly, b.Reassembly
	ra.Fragments += rb.Fragments
	ra.Reassembled += rb.Reassembled
	ra.Timeouts += rb.Timeouts
	ra.Overlaps += rb.Overlaps
	ra.MemoryDrops += rb.MemoryDrops
	ra.TooMany += rb.TooMany
	ra.Malformed += rb.Malformed
	// tcp.Stats grows as TCP gains mechanisms; sum its counters by
	// reflection (a status-page path) so none is silently left out.
	t, u := &a.TCP, b.TCP
	tv, uv := reflect.ValueOf(t).Elem(), reflect.ValueOf(u)
	for i := 0; i < tv.NumField(); i++ {
		if f := tv.Field(i); f.Kind() == reflect.Uint64 {
			f.SetUint(f.Uint() + uv.Field(i).Uint())
		}
	}
	if t.Drops == nil {
		t.Drops = map[string]uint64{}
		t.ConnsByState = map[string]int{}
	}
	for k, v := range u.Drops {
		t.Drops[k] += v
	}
	for k, v := range u.ConnsByState {
		t.ConnsByState[k] += v
	}
}
