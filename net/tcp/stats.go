package tcp

import (
	"net/netip"
	"time"
)

// Counters. Each Stack belongs to one protocol thread, so its counters are
// plain integers written only by that thread; Stats copies them for readers
// (the stack layer fetches them with a message to the owning thread).

// dropReason says why an inbound segment was discarded.
type dropReason uint8

const (
	dropShort          dropReason = iota // shorter than its header
	dropChecksum                         // checksum failed
	dropBadOptions                       // malformed option list
	dropNoSocket                         // no connection or listener (RST sent)
	dropBadAddr                          // broadcast/multicast/unspecified address
	dropOutOfWindow                      // unacceptable sequence number (ACK sent)
	dropBadAck                           // ACK outside the valid range
	dropPAWS                             // timestamp older than TS.Recent (RFC 7323 §5)
	dropRSTInvalid                       // RST not exactly at RCV.NXT (RFC 5961 §3)
	dropSYNInvalid                       // SYN in a synchronized state (RFC 5961 §4)
	dropListenOverflow                   // accept queue full
	dropBadCookie                        // ACK to a listener with an invalid SYN cookie
	dropAfterClose                       // data for a fully closed socket
	dropNoFlags                          // no SYN, RST or ACK where one is required
	numDropReasons
)

var dropNames = [numDropReasons]string{
	dropShort:          "short",
	dropChecksum:       "checksum",
	dropBadOptions:     "bad-options",
	dropNoSocket:       "no-socket",
	dropBadAddr:        "bad-address",
	dropOutOfWindow:    "out-of-window",
	dropBadAck:         "bad-ack",
	dropPAWS:           "paws",
	dropRSTInvalid:     "rst-invalid",
	dropSYNInvalid:     "syn-invalid",
	dropListenOverflow: "listen-overflow",
	dropBadCookie:      "bad-cookie",
	dropAfterClose:     "after-close",
	dropNoFlags:        "no-flags",
}

func (r dropReason) String() string { return dropNames[r] }

// counters are the Stack's running totals.
type counters struct {
	segsIn, segsOut          uint64
	bytesIn, bytesOut        uint64 // payload bytes
	retransSegs              uint64 // all retransmitted segments
	fastRetrans              uint64 // loss recoveries entered on dup ACKs / SACK
	rtoTimeouts              uint64
	checksumErrs             uint64
	challengeACKs            uint64
	challengeACKsLimited     uint64
	rstSent, rstRecv         uint64
	activeOpens, passiveOpen uint64
	failedOpens              uint64
	synCookiesSent           uint64
	synCookiesOK             uint64
	synCookiesBad            uint64
	zeroWindowProbes         uint64
	keepaliveProbes          uint64
	delayedACKs              uint64
	pmtuUpdates              uint64
	twRecycled               uint64
	dsacksRecv               uint64
	spuriousUndo             uint64
	tlpProbes                uint64
	rackLost                 uint64 // segments RACK marked lost
	rackTimeouts             uint64 // RACK reordering timer expiries
	csumOffloaded            uint64 // segments (GSO frames count once) left with a partial checksum
	gsoFrames, gsoSegs       uint64 // TSO frames handed to the link and the segments they carry
	csumValidatedIn          uint64 // received segments the device had verified
	drops                    [numDropReasons]uint64
}

// Stats is a snapshot of a Stack's counters.
type Stats struct {
	SegmentsIn, SegmentsOut  uint64
	BytesIn, BytesOut        uint64
	Retransmits              uint64
	FastRecoveries           uint64
	Timeouts                 uint64
	ChecksumErrors           uint64
	ChallengeACKs            uint64
	ChallengeACKsLimited     uint64
	ResetsSent, ResetsRecv   uint64
	ActiveOpens, PassiveOpen uint64
	FailedOpens              uint64
	SynCookiesSent           uint64
	SynCookiesValid          uint64
	SynCookiesInvalid        uint64
	ZeroWindowProbes         uint64
	KeepaliveProbes          uint64
	DelayedACKs              uint64
	PMTUUpdates              uint64
	TimeWaitRecycled         uint64
	DSACKsReceived           uint64 // duplicate reports (RFC 2883): spurious retransmissions or network duplicates
	SpuriousRecoveries       uint64 // window reductions undone after D-SACKs
	TailLossProbes           uint64
	RACKLost                 uint64 // segments RACK (RFC 8985 §6) marked lost
	RACKReorderTimeouts      uint64 // expiries of RACK's reordering timer
	// Offload (offload.go): frames sent with a partial checksum (a GSO
	// frame counts once), GSO frames and the wire segments they carried
	// (also in SegmentsOut), and received segments whose checksum the
	// device had verified.
	CsumOffloaded   uint64
	GSOFrames       uint64
	GSOSegments     uint64
	CsumValidatedIn uint64

	Drops        map[string]uint64 // by reason; zero counts omitted
	ConnsByState map[string]int    // zero counts omitted
}

// Stats returns a snapshot of the counters.
func (s *Stack) Stats() Stats {
	c := &s.ctr
	st := Stats{
		SegmentsIn: c.segsIn, SegmentsOut: c.segsOut,
		BytesIn: c.bytesIn, BytesOut: c.bytesOut,
		Retransmits: c.retransSegs, FastRecoveries: c.fastRetrans,
		Timeouts: c.rtoTimeouts, ChecksumErrors: c.checksumErrs,
		ChallengeACKs: c.challengeACKs, ChallengeACKsLimited: c.challengeACKsLimited,
		ResetsSent: c.rstSent, ResetsRecv: c.rstRecv,
		ActiveOpens: c.activeOpens, PassiveOpen: c.passiveOpen, FailedOpens: c.failedOpens,
		SynCookiesSent: c.synCookiesSent, SynCookiesValid: c.synCookiesOK,
		SynCookiesInvalid: c.synCookiesBad, ZeroWindowProbes: c.zeroWindowProbes,
		KeepaliveProbes: c.keepaliveProbes, DelayedACKs: c.delayedACKs,
		PMTUUpdates: c.pmtuUpdates, TimeWaitRecycled: c.twRecycled,
		DSACKsReceived: c.dsacksRecv, SpuriousRecoveries: c.spuriousUndo,
		TailLossProbes: c.tlpProbes, RACKLost: c.rackLost, RACKReorderTimeouts: c.rackTimeouts,
		CsumOffloaded: c.csumOffloaded, GSOFrames: c.gsoFrames, GSOSegments: c.gsoSegs,
		CsumValidatedIn: c.csumValidatedIn,
		Drops:           map[string]uint64{},
		ConnsByState:    map[string]int{},
	}
	for r, n := range c.drops {
		if n != 0 {
			st.Drops[dropReason(r).String()] = n
		}
	}
	for _, conn := range s.conns {
		st.ConnsByState[conn.state.String()]++
	}
	if n := len(s.listeners); n > 0 {
		st.ConnsByState[StateListen.String()] = n
	}
	return st
}

// ConnInfo describes one connection for status pages.
type ConnInfo struct {
	Local, Remote netip.AddrPort
	State         string
	SendQueue     int // bytes queued and not yet acknowledged
	RecvQueue     int // bytes received and not yet read
	Cwnd          int // congestion window, bytes
	SRTT          time.Duration
	Retransmits   uint64
}

// Connections lists the connections and listeners of this Stack.
func (s *Stack) Connections() []ConnInfo {
	out := make([]ConnInfo, 0, len(s.conns)+len(s.listeners))
	for _, l := range s.listeners {
		out = append(out, ConnInfo{Local: l.local, State: StateListen.String()})
	}
	for _, c := range s.conns {
		out = append(out, ConnInfo{
			Local: c.local, Remote: c.remote, State: c.state.String(),
			SendQueue: c.snd.buf.len(), RecvQueue: c.rcv.buf.len(),
			Cwnd: c.snd.cc.cwnd(), SRTT: c.snd.srtt, Retransmits: c.snd.retrans,
		})
	}
	return out
}
