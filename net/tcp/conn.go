package tcp

import (
	"io"
	"net/netip"
	"time"
)

// Event is a set of conditions reported to a Conn's notify function.
type Event uint8

const (
	EventReadable  Event = 1 << iota // data, EOF or an error is ready for Read
	EventWritable                    // send space opened, or the connection is established
	EventConnected                   // the handshake completed
	EventError                       // the connection failed; see Err
	EventClosed                      // the connection left the table (fully closed)
)

// Conn is one TCP connection. Its methods must run on the Stack's thread.
type Conn struct {
	s             *Stack
	local, remote netip.AddrPort
	state         State
	iss           uint32

	snd sender
	rcv receiver

	listener *Listener // set while half-open on a passive open
	accepted bool      // handed out by Accept (or created by Connect)

	userClosed bool  // Close called: no more Read/Write
	err        error // hard error, reported once data is drained
	softErr    error // last ICMP soft error

	// Timestamps (RFC 7323 §3): negotiated flag and our clock offset.
	tsOK     bool
	tsOffset uint32
	sackOK   bool // peer sent SACK-permitted
	wsOK     bool // both sides sent window scale

	keepalive      bool
	keepIdle       time.Duration
	keepIntvl      time.Duration
	keepCount      int
	keepSent       int
	lastRecv       time.Time
	keepaliveTimer *timer

	lifeTimer *timer // TIME-WAIT and orphaned FIN-WAIT-2
	timers    [numTimers]timer

	lastOOWAck time.Time // last reply to an out-of-window bare segment

	notify func(Event)
	pendEv Event
	queued bool
}

func (s *Stack) newConn(key fourTuple) *Conn {
	c := &Conn{s: s, local: key.local, remote: key.remote, lastRecv: s.now}
	c.snd.buf.limit = s.cfg.SendBufSize
	c.rcv.buf.limit = s.cfg.RecvBufSize + 1<<maxWScale // slack: see rcv.window
	c.rcv.size = s.cfg.RecvBufSize
	c.snd.rto = s.cfg.InitialRTO
	c.snd.mss = 536 // RFC 9293 §3.7.1 default until the peer says otherwise
	c.rcv.mss = s.mss()
	c.tsOffset = s.tsOffsetFor(key.local, key.remote)
	if s.cfg.Congestion == "newreno" {
		c.snd.cc = &c.snd.ccReno
	} else {
		c.snd.cc = &c.snd.ccCubic
	}
	for i := range c.timers {
		c.timers[i] = timer{idx: -1, c: c, kind: timerKind(i)}
	}
	c.snd.rtoTimer = &c.timers[timerRTO]
	c.snd.rackTimer = &c.timers[timerRACK]
	c.snd.persistTimer = &c.timers[timerPersist]
	c.rcv.delackTimer = &c.timers[timerDelACK]
	c.keepaliveTimer = &c.timers[timerKeepalive]
	c.lifeTimer = &c.timers[timerLife]
	return c
}

// ourWScale is the shift we offer: the least that lets the receive buffer
// be advertised in 16 bits (RFC 7323 §2.3).
func (c *Conn) ourWScale() uint8 { return wscaleFor(c.rcv.size) }

func (c *Conn) key() fourTuple { return fourTuple{c.local, c.remote} }

// raise queues ev for delivery when the current call completes.
func (c *Conn) raise(ev Event) {
	c.pendEv |= ev
	if !c.queued {
		c.s.pendConns = append(c.s.pendConns, c)
		c.queued = true
	}
}

// LocalAddr and RemoteAddr return the connection's endpoints.
func (c *Conn) LocalAddr() netip.AddrPort  { return c.local }
func (c *Conn) RemoteAddr() netip.AddrPort { return c.remote }

// State returns the RFC 9293 state.
func (c *Conn) State() State { return c.state }

// Err returns the error that ended the connection, if any.
func (c *Conn) Err() error { return c.err }

// SetNotify sets the function called, on the Stack's thread after the
// current call completes, when the connection's readiness changes.
func (c *Conn) SetNotify(f func(Event)) { c.notify = f }

// SetNoDelay disables (true) or enables Nagle's algorithm (RFC 896).
func (c *Conn) SetNoDelay(noDelay bool) {
	c.s.now = c.s.cfg.Now()
	c.snd.nodelay = noDelay
	if noDelay {
		c.output()
	}
	c.s.flush()
}

// SetKeepAlive enables keepalive probes (RFC 9293 §3.8.4) after idle
// without traffic, every interval, giving up after count unanswered probes.
// Zero durations or count choose Linux's defaults (2h, 75s, 9).
func (c *Conn) SetKeepAlive(enable bool, idle, interval time.Duration, count int) {
	c.s.now = c.s.cfg.Now()
	c.keepalive = enable
	c.keepIdle, c.keepIntvl, c.keepCount = idle, interval, count
	if c.keepIdle <= 0 {
		c.keepIdle = 2 * time.Hour
	}
	if c.keepIntvl <= 0 {
		c.keepIntvl = 75 * time.Second
	}
	if c.keepCount <= 0 {
		c.keepCount = 9
	}
	c.keepSent = 0
	if enable && c.state.synchronized() {
		c.s.resetTimer(c.keepaliveTimer, c.keepIdle)
	} else {
		c.s.stopTimer(c.keepaliveTimer)
	}
}

// Read copies received data into p. It returns ErrWouldBlock when nothing
// is ready, io.EOF after the peer's FIN, or the connection's error.
func (c *Conn) Read(p []byte) (int, error) {
	if c.userClosed {
		return 0, ErrClosed
	}
	if c.rcv.buf.len() == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.state.finReceived() || c.rcv.finDone {
			return 0, io.EOF
		}
		return 0, ErrWouldBlock
	}
	c.s.now = c.s.cfg.Now()
	n := c.rcv.buf.read(p)
	c.maybeWindowUpdate()
	c.s.flush()
	return n, nil
}

// Write queues as much of p as the send buffer holds and returns the
// count; ErrWouldBlock when none fits.
func (c *Conn) Write(p []byte) (int, error) {
	if c.userClosed || c.snd.finQueued {
		return 0, ErrClosed
	}
	if c.err != nil {
		return 0, c.err
	}
	if !c.state.canSend() {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.s.now = c.s.cfg.Now()
	n := c.snd.buf.write(p)
	if n == 0 {
		c.snd.wantWrite = true
		return 0, ErrWouldBlock
	}
	if n < len(p) {
		c.snd.wantWrite = true
	}
	c.output()
	c.s.flush()
	return n, nil
}

// Buffered returns the bytes ready to Read.
func (c *Conn) Buffered() int { return c.rcv.buf.len() }

// SendSpace returns how many bytes Write would accept now.
func (c *Conn) SendSpace() int { return c.snd.buf.free() }

// CloseWrite sends a FIN once queued data is sent (half close).
func (c *Conn) CloseWrite() error {
	c.s.now = c.s.cfg.Now()
	defer c.s.flush()
	return c.shutdownSend()
}

func (c *Conn) shutdownSend() error {
	if c.snd.finQueued {
		return nil
	}
	switch c.state {
	case StateSynSent:
		c.destroy(ErrClosed)
		return nil
	case StateSynReceived, StateEstablished:
		c.state = StateFinWait1
	case StateCloseWait:
		c.state = StateLastAck
	default:
		return ErrClosed
	}
	c.snd.finQueued = true
	c.snd.finSeq = c.snd.bufSeq + uint32(c.snd.buf.len())
	c.output()
	return nil
}

// Close closes both directions. Queued data is still sent, followed by a
// FIN; if received data was left unread the connection is reset instead,
// as RFC 2525 §2.17 recommends, so the peer learns it was lost.
func (c *Conn) Close() error {
	c.s.now = c.s.cfg.Now()
	defer c.s.flush()
	if c.userClosed {
		return ErrClosed
	}
	c.userClosed = true
	if c.state == StateClosed {
		return nil
	}
	if c.rcv.buf.len() > 0 {
		c.abort(ErrClosed)
		return nil
	}
	if c.state == StateSynSent {
		c.destroy(ErrClosed)
		return nil
	}
	c.shutdownSend()
	if c.state == StateFinWait2 {
		c.s.resetTimer(c.lifeTimer, c.s.cfg.FinWait2Timeout)
	}
	return nil
}

// Abort resets the connection (SO_LINGER with zero timeout).
func (c *Conn) Abort() {
	c.s.now = c.s.cfg.Now()
	c.userClosed = true
	c.abort(ErrConnAborted)
	c.s.flush()
}

func (c *Conn) abort(err error) {
	if c.state == StateClosed {
		return
	}
	if c.state.synchronized() || c.state == StateSynReceived {
		c.s.sendControl(c.key(), c.snd.nxt, c.rcv.nxt, FlagRST|FlagACK, 0)
	}
	c.destroy(err)
}

// destroy moves the connection to CLOSED, removes it from the tables and
// stops its timers. err, if non-nil, is reported to the user.
func (c *Conn) destroy(err error) {
	if c.state == StateClosed {
		return
	}
	s := c.s
	c.state = StateClosed
	if s.conns[c.key()] == c {
		delete(s.conns, c.key())
	}
	for i := range c.timers {
		s.stopTimer(&c.timers[i])
	}
	if c.listener != nil {
		c.listener.halfOpenDone(c)
	}
	if err != nil && c.err == nil {
		c.err = err
		c.raise(EventError | EventReadable | EventWritable)
	}
	c.raise(EventClosed)
}

// enterTimeWait starts the 2*MSL wait of RFC 9293 §3.10.7.4.
func (c *Conn) enterTimeWait() {
	c.state = StateTimeWait
	// Everything we sent is acknowledged (our FIN was): give the send
	// buffer back now rather than after 2*MSL.
	c.snd.buf = ring{limit: c.snd.buf.limit}
	c.snd.sb = scoreboard{}
	s := c.s
	s.stopTimer(c.snd.rtoTimer)
	s.stopTimer(c.snd.rackTimer)
	s.stopTimer(c.snd.persistTimer)
	s.stopTimer(c.keepaliveTimer)
	s.resetTimer(c.lifeTimer, 2*s.cfg.MSL)
	c.raise(EventReadable)
}

func (c *Conn) onLifeTimer() {
	switch c.state {
	case StateTimeWait, StateFinWait2:
		c.destroy(nil)
	}
}

// timeWaitRecycle decides whether a SYN may reopen a tuple in TIME-WAIT
// (RFC 9293 §3.10.7.4 note, RFC 6191): it must be a bare SYN that is newer
// than the old connection by timestamp or, without timestamps, by sequence
// number.
func (c *Conn) timeWaitRecycle(h Header, o *Options) bool {
	if h.Flags()&(FlagSYN|FlagACK|FlagRST) != FlagSYN {
		return false
	}
	if c.tsOK && o.HasTS {
		return seqGT(o.TSVal, c.rcv.tsRecent)
	}
	return seqGT(h.Seq(), c.rcv.nxt)
}

// Keepalive (RFC 9293 §3.8.4): a probe is an ACK carrying SND.UNA-1, which
// the peer must answer with an ACK.
func (c *Conn) onKeepalive() {
	if !c.keepalive || !c.state.synchronized() || c.state == StateTimeWait {
		return
	}
	idle := c.s.now.Sub(c.lastRecv)
	if c.keepSent == 0 && idle < c.keepIdle {
		c.s.resetTimer(c.keepaliveTimer, c.keepIdle-idle)
		return
	}
	if c.keepSent >= c.keepCount {
		c.abort(ErrTimeout)
		return
	}
	c.keepSent++
	c.s.ctr.keepaliveProbes++
	c.sendSegment(c.snd.una-1, FlagACK, 0, 0)
	c.s.resetTimer(c.keepaliveTimer, c.keepIntvl)
}

// pmtuUpdate lowers the MSS on ICMP fragmentation-needed (RFC 1191) and
// resends what was in flight at the new size.
func (c *Conn) pmtuUpdate(mtu int) {
	const minMTU = 68 // RFC 791
	if mtu < minMTU || mtu-40 >= c.snd.mss {
		return
	}
	c.s.ctr.pmtuUpdates++
	c.snd.mss = mtu - 40
	c.snd.cc.setMSS(c.smss())
	c.snd.cc.setABCLimit(c.abcLimit())
	if c.state.synchronized() && c.snd.nxt != c.snd.una {
		c.snd.nxt = c.snd.una
		c.snd.rttTiming = false
		// Everything is resent at the new size: RACK times it anew.
		c.snd.sb.forgetSent()
		c.s.stopTimer(c.snd.rackTimer)
		c.output()
	}
}
