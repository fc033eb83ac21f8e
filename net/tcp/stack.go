package tcp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"damselfly/net/checksum"
)

// Config parameterises a Stack. Zero values select the defaults noted.
type Config struct {
	Now        func() time.Time                      // clock (required; fake in tests)
	Output     func(src, dst netip.Addr, seg []byte) // send a segment; seg valid only during the call (required)
	MTU        int                                   // interface MTU (default 1500)
	ISNSecret  [16]byte                              // RFC 6528 key; also keys SYN cookies
	Congestion string                                // "cubic" (default) or "newreno"
	Rand       func() uint32                         // jitter source (default: derived from ISNSecret)

	SendBufSize  int  // per-connection send buffer (default 1 MiB)
	RecvBufSize  int  // per-connection receive buffer, i.e. the largest window (default 1 MiB)
	SynBacklog   int  // half-open connections per listener before SYN cookies (default 256)
	NoSynCookies bool // drop SYNs on overflow instead of answering with cookies

	// Option switches (Linux's tcp_sack, tcp_timestamps,
	// tcp_window_scaling), mainly to test the paths without them.
	NoSACK, NoTimestamps, NoWindowScale bool

	MSL               time.Duration // maximum segment lifetime; TIME-WAIT lasts 2*MSL (default 30s)
	FinWait2Timeout   time.Duration // orphaned FIN-WAIT-2 lifetime (default 60s)
	DelayedACK        time.Duration // delayed-ACK timer (default 40ms)
	MinRTO            time.Duration // RTO floor (default 200ms, as Linux; RFC 6298 suggests 1s)
	MaxRTO            time.Duration // RTO ceiling (default 60s, RFC 6298 §2.5)
	InitialRTO        time.Duration // before the first sample (default 1s, RFC 6298 §2.1)
	SynRetries        int           // SYN / SYN-ACK retransmissions before giving up (default 6)
	DataRetries       int           // data retransmissions before giving up (default 15)
	ChallengeACKLimit int           // challenge ACKs per second, stack-wide (default 1000, RFC 5961 §7)

	// Offload says what the link finishes (offload.go); every segment
	// then leaves through OutputOffload instead of Output, with gsoSize
	// the MSS a TSO segment is to be cut into (0: send as it is). Ignored
	// without OutputOffload.
	Offload       Offload
	OutputOffload func(src, dst netip.Addr, seg []byte, gsoSize int)
	// OutputOffloadFrame, if set, is used instead of OutputOffload: seg
	// is frame[off:] and frame[:off] (Headroom bytes) is free for the
	// caller's link and network headers, so it can finish the frame in
	// place instead of copying the segment behind them. frame is valid
	// only during the call.
	OutputOffloadFrame func(src, dst netip.Addr, frame []byte, off, gsoSize int)
	Headroom           int // bytes kept free before every segment (with OutputOffloadFrame)

	// SlowStartL is RFC 3465's L: the most segments one ACK may add to
	// cwnd in slow start (default 2, as §2.2 recommends). A peer whose
	// receive offload (GRO) merges our TSO frames acknowledges a whole
	// frame with one ACK; with L = 2 slow start then grows by 2 MSS per
	// frame instead of doubling each round trip. net/stack raises it to
	// a TSO frame's segments on a link with TSO (Linux counts every
	// acknowledged segment).
	SlowStartL int
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MTU, 1500)
	if c.OutputOffload == nil || !c.Offload.Checksum {
		c.Offload = Offload{}
	}
	def(&c.SendBufSize, 1<<20)
	def(&c.RecvBufSize, 1<<20)
	def(&c.SynBacklog, 256)
	def(&c.SynRetries, 6)
	def(&c.DataRetries, 15)
	def(&c.ChallengeACKLimit, 1000)
	def(&c.SlowStartL, 2)
	defd(&c.MSL, 30*time.Second)
	defd(&c.FinWait2Timeout, 60*time.Second)
	defd(&c.DelayedACK, 40*time.Millisecond)
	defd(&c.MinRTO, 200*time.Millisecond)
	defd(&c.MaxRTO, 60*time.Second)
	defd(&c.InitialRTO, time.Second)
	if c.Congestion == "" {
		c.Congestion = "cubic"
	}
	if c.Rand == nil {
		// A xorshift generator seeded from the secret: deterministic for
		// tests, unpredictable to peers as long as the secret is.
		state := uint32(sipHash24(&c.ISNSecret, []byte("rand"))) | 1
		c.Rand = func() uint32 {
			state ^= state << 13
			state ^= state >> 17
			state ^= state << 5
			return state
		}
	}
}

// Errors returned by the API. Conn errors are also reported by Conn.Err.
var (
	ErrWouldBlock    = errors.New("tcp: operation would block")
	ErrClosed        = errors.New("tcp: use of closed connection")
	ErrConnReset     = errors.New("tcp: connection reset by peer")
	ErrConnRefused   = errors.New("tcp: connection refused")
	ErrConnAborted   = errors.New("tcp: connection aborted")
	ErrTimeout       = errors.New("tcp: connection timed out")
	ErrUnreachable   = errors.New("tcp: destination unreachable")
	ErrAddrInUse     = errors.New("tcp: address already in use")
	ErrInvalidConfig = errors.New("tcp: invalid config")
)

// fourTuple keys the connection table: a connection is found from a
// received segment's (dst, src) and from a sent one's (src, dst).
type fourTuple struct{ local, remote netip.AddrPort }

// A Stack holds the TCP state of one protocol thread. It is not safe for
// concurrent use: every method, and every Conn and Listener method, must run
// on the owning thread. It owns no goroutines and reads time only through
// Config.Now.
type Stack struct {
	cfg     Config
	now     time.Time // Config.Now at the start of the current call
	epoch   time.Time // origin of the ISN and timestamp clocks
	isnBase uint32

	conns     map[fourTuple]*Conn
	listeners map[netip.AddrPort]*Listener
	timers    timerHeap
	ctr       counters

	obuf []byte // output scratch: headroom + header + largest payload
	seg  []byte // obuf past the headroom: where segments are built

	// Notification queue: events are raised while a segment or timer is
	// being processed and delivered once processing is over, so a callback
	// that calls back into the Stack sees consistent state.
	pendConns     []*Conn
	pendListeners []*Listener
	flushing      bool

	// Challenge-ACK limiter (RFC 5961 §7): count in the current second.
	chalSecond time.Time
	chalCount  int
}

// NewStack returns a Stack for one protocol thread.
func NewStack(cfg Config) *Stack {
	cfg.setDefaults()
	s := &Stack{
		cfg:       cfg,
		conns:     make(map[fourTuple]*Conn),
		listeners: make(map[netip.AddrPort]*Listener),
		obuf:      make([]byte, cfg.Headroom+HeaderMaxLen+max(cfg.MTU, cfg.Offload.TSOMax)),
	}
	s.seg = s.obuf[cfg.Headroom:]
	s.now = cfg.Now()
	s.epoch = s.now
	s.isnBase = cfg.Rand()
	return s
}

func (s *Stack) mss() int { return s.cfg.MTU - 40 } // IPv4 + TCP fixed headers

// Deliver processes one received segment: seg is the TCP header and
// payload, src and dst the IPv4 addresses. Malformed segments are dropped
// and counted; seg is not retained after the call.
func (s *Stack) Deliver(src, dst netip.Addr, seg []byte) {
	s.now = s.cfg.Now()
	s.ctr.segsIn++
	s.deliverChecked(src, dst, seg, false)
	s.flush()
}

// deliverChecked is Deliver's work; validated skips the checksum (the
// device verified it).
func (s *Stack) deliverChecked(src, dst netip.Addr, seg []byte, validated bool) {
	h := Header(seg)
	if err := h.Validate(); err != nil {
		s.ctr.drops[dropShort]++
		return
	}
	// Addresses first: the pseudo-header sum is IPv4-only. TCP never
	// uses broadcast or multicast (RFC 1122 §4.2.3.10).
	if !src.Is4() || !dst.Is4() || src.IsMulticast() || dst.IsMulticast() || src.IsUnspecified() ||
		dst.IsUnspecified() || src == netip.AddrFrom4([4]byte{255, 255, 255, 255}) ||
		dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		s.ctr.drops[dropBadAddr]++
		return
	}
	if !validated && segChecksum(src, dst, seg) != 0 {
		s.ctr.checksumErrs++
		s.ctr.drops[dropChecksum]++
		return
	}
	var opts Options
	if err := ParseOptions(h.Options(), &opts); err != nil {
		s.ctr.drops[dropBadOptions]++
		return
	}
	s.ctr.bytesIn += uint64(len(h.Payload()))
	key := fourTuple{netip.AddrPortFrom(dst, h.DstPort()), netip.AddrPortFrom(src, h.SrcPort())}
	if c := s.conns[key]; c != nil {
		if c.state == StateTimeWait && c.timeWaitRecycle(h, &opts) {
			s.ctr.twRecycled++
			c.destroy(nil)
		} else {
			c.segmentArrives(h, &opts)
			return
		}
	}
	if l := s.lookupListener(key.local); l != nil {
		l.segmentArrives(key, h, &opts)
		return
	}
	s.ctr.drops[dropNoSocket]++
	s.sendResetFor(key, h)
}

func (s *Stack) lookupListener(local netip.AddrPort) *Listener {
	if l := s.listeners[local]; l != nil {
		return l
	}
	return s.listeners[netip.AddrPortFrom(netip.IPv4Unspecified(), local.Port())]
}

// sendResetFor answers a segment that belongs to no connection, RFC 9293
// §3.10.7.1: a RST is never answered.
func (s *Stack) sendResetFor(key fourTuple, h Header) {
	f := h.Flags()
	if f&FlagRST != 0 {
		return
	}
	if f&FlagACK != 0 {
		s.sendControl(key, h.Ack(), 0, FlagRST, 0)
		return
	}
	segLen := uint32(len(h.Payload()))
	if f&FlagSYN != 0 {
		segLen++
	}
	if f&FlagFIN != 0 {
		segLen++
	}
	s.sendControl(key, 0, h.Seq()+segLen, FlagRST|FlagACK, 0)
}

// sendControl emits a segment with no options or payload.
func (s *Stack) sendControl(key fourTuple, seq, ack uint32, flags Flags, wnd uint16) {
	if flags&FlagRST != 0 {
		s.ctr.rstSent++
	}
	h := Header(s.seg[:HeaderMinLen])
	h.SetSrcPort(key.local.Port())
	h.SetDstPort(key.remote.Port())
	h.SetSeq(seq)
	h.SetAck(ack)
	h.SetDataOffset(HeaderMinLen)
	h.SetFlags(flags)
	h.SetWindow(wnd)
	h.SetUrgentPtr(0)
	s.transmit(key, h, 0)
}

// transmit fills the checksum of the finished segment seg and hands it to
// Config.Output, or leaves the checksum (and, with gso > 0, the cutting
// into gso-byte segments) to the link.
func (s *Stack) transmit(key fourTuple, seg []byte, gso int) {
	h := Header(seg)
	src, dst := key.local.Addr(), key.remote.Addr()
	if s.cfg.Offload.Checksum {
		s.transmitOffload(src, dst, seg, gso)
		return
	}
	h.SetChecksum(0)
	h.SetChecksum(segChecksum(src, dst, seg))
	s.ctr.segsOut++
	s.ctr.bytesOut += uint64(len(seg) - h.DataOffset())
	s.cfg.Output(src, dst, seg)
}

// segChecksum is the TCP checksum of seg (checksum field included in the
// sum, so a received intact segment gives 0), RFC 9293 §3.1.
func segChecksum(src, dst netip.Addr, seg []byte) uint16 {
	return checksum.Fold(checksum.Add(checksum.PseudoHeader(src, dst, ProtocolNumber, len(seg)), seg))
}

// challengeACKAllowed applies the stack-wide RFC 5961 §7 limit.
func (s *Stack) challengeACKAllowed() bool {
	if s.now.Sub(s.chalSecond) >= time.Second {
		s.chalSecond, s.chalCount = s.now, 0
	}
	if s.chalCount >= s.cfg.ChallengeACKLimit {
		s.ctr.challengeACKsLimited++
		return false
	}
	s.chalCount++
	s.ctr.challengeACKs++
	return true
}

// tsClock is the RFC 7323 timestamp clock: milliseconds since the epoch.
func (s *Stack) tsClock() uint32 { return s.tsAt(s.now) }

// tsAt is the timestamp clock's reading at t.
func (s *Stack) tsAt(t time.Time) uint32 { return uint32(t.Sub(s.epoch) / time.Millisecond) }

// Listen opens a listener on local; an unspecified address accepts on
// every address. backlog bounds the accept queue.
func (s *Stack) Listen(local netip.AddrPort, backlog int) (*Listener, error) {
	s.now = s.cfg.Now()
	if local.Port() == 0 || !local.Addr().Is4() {
		return nil, fmt.Errorf("tcp: listen %v: need an IPv4 address and a port: %w", local, ErrInvalidConfig)
	}
	if s.listeners[local] != nil {
		return nil, fmt.Errorf("tcp: listen %v: %w", local, ErrAddrInUse)
	}
	l := &Listener{s: s, local: local, backlog: max(backlog, 1)}
	s.listeners[local] = l
	return l, nil
}

// Connect opens a connection from local (address and port chosen by the
// caller) to remote by sending a SYN. The Conn becomes writable when
// established; failure is reported through its notify function and Err.
func (s *Stack) Connect(local, remote netip.AddrPort) (*Conn, error) {
	s.now = s.cfg.Now()
	key := fourTuple{local, remote}
	if !local.Addr().Is4() || !remote.Addr().Is4() || local.Port() == 0 || remote.Port() == 0 {
		return nil, fmt.Errorf("tcp: connect %v->%v: %w", local, remote, ErrInvalidConfig)
	}
	if old := s.conns[key]; old != nil {
		if old.state != StateTimeWait {
			return nil, fmt.Errorf("tcp: connect %v->%v: %w", local, remote, ErrAddrInUse)
		}
		// Reusing a TIME-WAIT tuple is safe: our new ISN is above the old
		// connection's sequence space (RFC 6528 clock), and timestamps
		// are newer, so the peer's TIME-WAIT will accept the SYN.
		s.ctr.twRecycled++
		old.destroy(nil)
	}
	c := s.newConn(key)
	c.iss = s.isn(local, remote, s.now)
	c.initSend(c.iss)
	c.state = StateSynSent
	c.rcv.shift = c.ourWScale()
	s.conns[key] = c
	s.ctr.activeOpens++
	c.sendSYN()
	s.flush()
	return c, nil
}

// flush delivers queued notifications.
func (s *Stack) flush() {
	if s.flushing {
		return
	}
	s.flushing = true
	// Callbacks may raise more events; the queues are walked by index so
	// that appends during the walk are seen and the backing arrays reused.
	for len(s.pendConns) > 0 || len(s.pendListeners) > 0 {
		for i := 0; i < len(s.pendConns); i++ {
			c := s.pendConns[i]
			s.pendConns[i] = nil
			ev := c.pendEv
			c.pendEv, c.queued = 0, false
			if c.notify != nil && ev != 0 {
				c.notify(ev)
			}
		}
		s.pendConns = s.pendConns[:0]
		for i := 0; i < len(s.pendListeners); i++ {
			l := s.pendListeners[i]
			s.pendListeners[i] = nil
			l.pending = false
			if l.notify != nil {
				l.notify()
			}
		}
		s.pendListeners = s.pendListeners[:0]
	}
	s.flushing = false
}

// ICMPKind classifies an ICMP error about a segment we sent.
type ICMPKind uint8

const (
	// ICMPFragNeeded is "fragmentation needed and DF set" (RFC 792, RFC
	// 1191): mtu carries the next-hop MTU.
	ICMPFragNeeded ICMPKind = iota + 1
	// ICMPUnreachable is any other destination-unreachable code (net,
	// host, protocol, port, administratively prohibited).
	ICMPUnreachable
)

// DeliverICMP reports an ICMP error quoting a segment this stack sent: src
// and dst are the quoted datagram's addresses (ours, then the peer's) and
// origTCPHeader at least its first 8 bytes. The quoted sequence number must
// lie in [SND.UNA, SND.MAX] (RFC 5927 §4.1) or the message is ignored as
// blind or stale.
func (s *Stack) DeliverICMP(kind ICMPKind, mtu int, src, dst netip.Addr, origTCPHeader []byte) {
	s.now = s.cfg.Now()
	if len(origTCPHeader) < 8 {
		return
	}
	h := Header(origTCPHeader)
	key := fourTuple{netip.AddrPortFrom(src, h.SrcPort()), netip.AddrPortFrom(dst, h.DstPort())}
	c := s.conns[key]
	if c == nil {
		return
	}
	seq := h.Seq()
	if seqLT(seq, c.snd.una) || seqGT(seq, c.snd.max) {
		return
	}
	switch kind {
	case ICMPFragNeeded:
		c.pmtuUpdate(mtu)
	case ICMPUnreachable:
		// RFC 1122 §4.2.3.9: a soft error while connecting aborts the
		// attempt; on an established connection it is only recorded.
		if c.state == StateSynSent {
			s.ctr.failedOpens++
			c.destroy(ErrUnreachable)
		} else {
			c.softErr = ErrUnreachable
		}
	}
	s.flush()
}
