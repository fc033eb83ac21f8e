package tcp

import "net/netip"

// Listener is a passive-open endpoint (RFC 9293 LISTEN). Each protocol
// thread's Stack holds its own Listener for a shared port and completes
// the handshakes that land on it. Half-open connections live in the
// connection table in SYN-RECEIVED; once established they wait in the
// accept queue. When half-open connections reach Config.SynBacklog, SYNs
// are answered with SYN cookies instead (syncookie.go), so a SYN flood
// cannot fill memory or lock out real clients.
type Listener struct {
	s        *Stack
	local    netip.AddrPort
	backlog  int
	halfOpen map[*Conn]struct{}
	acceptQ  []*Conn
	closed   bool
	notify   func()
	pending  bool
}

// Addr returns the listening address.
func (l *Listener) Addr() netip.AddrPort { return l.local }

// SetNotify sets the function called (on the Stack's thread) when a
// connection becomes acceptable.
func (l *Listener) SetNotify(f func()) { l.notify = f }

// Accept returns an established connection, or ErrWouldBlock.
func (l *Listener) Accept() (*Conn, error) {
	if l.closed {
		return nil, ErrClosed
	}
	if len(l.acceptQ) == 0 {
		return nil, ErrWouldBlock
	}
	c := l.acceptQ[0]
	l.acceptQ[0] = nil
	l.acceptQ = l.acceptQ[1:]
	c.accepted = true
	return c, nil
}

// Pending returns the number of connections waiting in the accept queue.
func (l *Listener) Pending() int { return len(l.acceptQ) }

// Close stops listening and resets connections not yet accepted.
func (l *Listener) Close() error {
	s := l.s
	s.now = s.cfg.Now()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	if s.listeners[l.local] == l {
		delete(s.listeners, l.local)
	}
	for c := range l.halfOpen {
		c.abort(nil)
	}
	for _, c := range l.acceptQ {
		c.abort(nil)
	}
	l.acceptQ = nil
	s.flush()
	return nil
}

func (l *Listener) halfOpenDone(c *Conn) {
	delete(l.halfOpen, c)
	c.listener = nil
}

func (l *Listener) enqueue(c *Conn) {
	l.acceptQ = append(l.acceptQ, c)
	c.s.ctr.passiveOpen++
	if !l.pending {
		l.pending = true
		l.s.pendListeners = append(l.s.pendListeners, l)
	}
}

// segmentArrives handles a segment for no connection on a listening
// port, RFC 9293 §3.10.7.2.
func (l *Listener) segmentArrives(key fourTuple, h Header, o *Options) {
	s := l.s
	flags := h.Flags()
	switch {
	case flags&FlagRST != 0:
		return
	case flags&FlagACK != 0:
		if flags&FlagSYN == 0 && !s.cfg.NoSynCookies && l.cookieACK(key, h, o) {
			return
		}
		s.ctr.drops[dropNoSocket]++
		s.sendControl(key, h.Ack(), 0, FlagRST, 0)
		return
	case flags&FlagSYN == 0:
		s.ctr.drops[dropNoFlags]++
		return
	}
	if len(l.acceptQ) >= l.backlog {
		s.ctr.drops[dropListenOverflow]++
		return
	}
	if len(l.halfOpen) >= s.cfg.SynBacklog {
		if s.cfg.NoSynCookies {
			s.ctr.drops[dropListenOverflow]++
			return
		}
		l.sendCookie(key, h, o)
		return
	}
	c := s.newConn(key)
	c.state = StateSynReceived
	c.listener = l
	if l.halfOpen == nil {
		l.halfOpen = make(map[*Conn]struct{})
	}
	l.halfOpen[c] = struct{}{}
	c.rcv.irs = h.Seq()
	c.rcv.nxt = c.rcv.irs + 1
	c.applySynOptions(o)
	c.iss = s.isn(key.local, key.remote, s.now)
	c.initSend(c.iss)
	c.lastRecv = s.now
	s.conns[key] = c
	c.sendSYN()
}
