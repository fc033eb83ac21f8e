package tcp

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// SYN cookies: when the SYN backlog is full, the listener keeps no state
// for a SYN. It encodes what it must remember in the ISN of its SYN-ACK
// and recovers it from the ACK that completes the handshake (ACK-1):
//
//	bits 31-27  t mod 32, t a counter ticking every cookieTick
//	bits 26-24  index into cookieMSS of the MSS to use
//	bits 23-0   SipHash(secret, 4-tuple, client ISN, t), truncated
//
// A cookie is valid for the current and the previous tick. Window scale
// and SACK-permitted do not fit in 32 bits; when the client sends
// timestamps they ride in the low bits of our TSval, which comes back as
// TSecr (as Linux does); without timestamps the connection goes without.
const cookieTick = 64 * time.Second

// cookieMSS holds the MSS values a cookie can name, ascending.
var cookieMSS = [8]uint16{536, 1200, 1360, 1440, 1452, 1460, 4312, 8960}

const (
	tsCookieBits  = 6 // low TSval bits: 4 bits wscale (0xf = none), 1 bit SACK-perm, 1 bit set
	tsCookieNoWS  = 0xf
	tsCookieSACK  = 1 << 4
	tsCookieValid = 1 << 5
)

func (s *Stack) cookieCounter() uint32 { return uint32(s.now.Sub(s.epoch) / cookieTick) }

func (s *Stack) cookieHash(key fourTuple, clientISN, t uint32) uint32 {
	var k [16]byte
	copy(k[:], s.cfg.ISNSecret[:])
	binary.LittleEndian.PutUint32(k[12:], binary.LittleEndian.Uint32(k[12:])^0x636f6f6b) // a key distinct from the ISN key
	return uint32(tupleHash(&k, key.local, key.remote, clientISN^t*0x9e3779b9))
}

func (s *Stack) makeCookie(key fourTuple, clientISN uint32, mss int) uint32 {
	idx := 0
	for i, m := range cookieMSS {
		if int(m) <= mss {
			idx = i
		}
	}
	t := s.cookieCounter()
	return (t&0x1f)<<27 | uint32(idx)<<24 | s.cookieHash(key, clientISN, t)&0xffffff
}

// checkCookie validates cookie and returns the MSS it encodes.
func (s *Stack) checkCookie(key fourTuple, clientISN, cookie uint32) (int, bool) {
	now := s.cookieCounter()
	for age := uint32(0); age < 2 && age <= now; age++ {
		t := now - age
		if t&0x1f != cookie>>27 {
			continue
		}
		if s.cookieHash(key, clientISN, t)&0xffffff == cookie&0xffffff {
			return int(cookieMSS[cookie>>24&7]), true
		}
	}
	return 0, false
}

// cookieTSOffset is the timestamp offset used for cookie connections of a
// tuple, so the TSval in the SYN-ACK and those after it are monotonic. It is
// the same offset every connection between the two hosts uses (tsOffsetFor).
func (s *Stack) cookieTSOffset(key fourTuple) uint32 {
	return s.tsOffsetFor(key.local, key.remote)
}

// tsOffsetFor is the TSval offset for connections between two hosts: a keyed
// hash of the address pair, ports left out (as Linux does). A random offset
// per connection would break the reuse of a 4-tuple still in TIME-WAIT on
// the other side: the new connection's timestamps could be lower than the
// old one's and the peer would drop its SYN by PAWS (RFC 7323 §5.3) until
// TIME-WAIT expired. With one offset per host pair the timestamps of
// successive connections on a tuple keep increasing with the clock. The
// offset still hides the clock's value from other hosts (RFC 7323 §7.1).
func (s *Stack) tsOffsetFor(local, remote netip.AddrPort) uint32 {
	return uint32(tupleHash(&s.cfg.ISNSecret,
		netip.AddrPortFrom(local.Addr(), 0), netip.AddrPortFrom(remote.Addr(), 0), 0x7473))
}

// sendCookie answers a SYN statelessly.
func (l *Listener) sendCookie(key fourTuple, h Header, o *Options) {
	s := l.s
	s.ctr.synCookiesSent++
	peerMSS := 536
	if o.HasMSS {
		peerMSS = int(o.MSS)
	}
	mss := min(peerMSS, s.mss())
	cookie := s.makeCookie(key, h.Seq(), mss)
	var opts Options
	opts.HasMSS, opts.MSS = true, uint16(s.mss())
	if o.HasTS && !s.cfg.NoTimestamps {
		enc := uint32(tsCookieValid | tsCookieNoWS)
		var ws uint8
		if o.HasWScale && !s.cfg.NoWindowScale {
			ws = wscaleFor(s.cfg.RecvBufSize)
			enc = tsCookieValid | uint32(o.WScale)
			opts.HasWScale, opts.WScale = true, ws
		}
		if o.SACKPerm && !s.cfg.NoSACK {
			enc |= tsCookieSACK
			opts.SACKPerm = true
		}
		opts.HasTS = true
		opts.TSVal = (s.tsClock()+s.cookieTSOffset(key))&^(1<<tsCookieBits-1) | enc
		opts.TSEcr = o.TSVal
	}
	b := s.seg
	hl := HeaderMinLen + EncodeOptions(b[HeaderMinLen:HeaderMaxLen], &opts)
	out := Header(b[:hl])
	out.SetSrcPort(key.local.Port())
	out.SetDstPort(key.remote.Port())
	out.SetSeq(cookie)
	out.SetAck(h.Seq() + 1)
	out.SetDataOffset(hl)
	out.SetFlags(FlagSYN | FlagACK)
	out.SetWindow(uint16(min(s.cfg.RecvBufSize, 0xffff)))
	out.SetUrgentPtr(0)
	s.transmit(key, out, 0)
}

// cookieACK tries to complete a handshake from a cookie; it reports
// whether the segment was consumed.
func (l *Listener) cookieACK(key fourTuple, h Header, o *Options) bool {
	s := l.s
	iss := h.Ack() - 1
	irs := h.Seq() - 1
	mss, ok := s.checkCookie(key, irs, iss)
	if !ok {
		s.ctr.synCookiesBad++
		s.ctr.drops[dropBadCookie]++
		return false
	}
	if len(l.acceptQ) >= l.backlog {
		s.ctr.drops[dropListenOverflow]++
		return true
	}
	s.ctr.synCookiesOK++
	var syn Options
	syn.HasMSS, syn.MSS = true, uint16(mss)
	tsOff := uint32(0)
	if o.HasTS && o.TSEcr&tsCookieValid != 0 {
		syn.HasTS, syn.TSVal = true, o.TSVal-1
		if ws := o.TSEcr & 0xf; ws != tsCookieNoWS {
			syn.HasWScale, syn.WScale = true, uint8(min(ws, maxWScale))
		}
		syn.SACKPerm = o.TSEcr&tsCookieSACK != 0
		tsOff = s.cookieTSOffset(key) + 1<<tsCookieBits
	}
	c := s.newConn(key)
	c.state = StateSynReceived
	c.rcv.irs, c.rcv.nxt = irs, irs+1
	c.applySynOptions(&syn)
	if syn.HasTS {
		c.tsOffset = tsOff
	}
	c.iss = iss
	c.initSend(iss)
	c.snd.nxt, c.snd.max = iss+1, iss+1
	c.rcv.advEdge = c.rcv.nxt + uint32(min(s.cfg.RecvBufSize, 0xffff))
	c.lastRecv = s.now
	s.conns[key] = c
	// The ACK now finds a SYN-RECEIVED connection and completes it
	// through the ordinary path (accept queue, data, FIN).
	c.listener = l
	if l.halfOpen == nil {
		l.halfOpen = make(map[*Conn]struct{})
	}
	l.halfOpen[c] = struct{}{}
	c.segmentArrives(h, o)
	if c.state == StateSynReceived {
		c.destroy(nil) // not completed: keep no state
	}
	return true
}

// wscaleFor is the shift that lets size be advertised in 16 bits.
func wscaleFor(size int) uint8 {
	var sh uint8
	for size>>sh > 0xffff && sh < maxWScale {
		sh++
	}
	return sh
}
