package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"damselfly/net/tcp"
)

// TCPConn is a TCP connection seen from outside the protocol threads. It
// implements net.Conn. The tcp.Conn inside belongs to thread p and is
// reached only by socket messages to p's port (sockmsg.go); the notify
// callback (run on p) completes kept sends and wakes blocked readers and
// dialers through rwake and wwake.
type TCPConn struct {
	s             *Stack
	p             *proto
	c             *tcp.Conn
	local, remote netip.AddrPort

	rwake, wwake chan struct{}
	rdl, wdl     deadline
	// readEvents counts readable notifications: an LWKT reader
	// (ReadThread) sleeps on it, with the count as its condition.
	readEvents  atomic.Uint64
	lwktReaders atomic.Bool // ReadThread was used: notify wakes sleepers
	closed      chan struct{}
	closeOnce   sync.Once

	// Read side: one Read at a time, with its own message and reply port
	// (made by the first Read: the protocol thread makes the TCPConn of
	// every accepted connection, so it stays small).
	rmu sync.Mutex
	rd  *reader

	// Write side: one Write at a time (its data is not interleaved with
	// another's), with send messages and their reply port (first Write).
	wmu  sync.Mutex
	wr   *writer
	wgen uint64 // the current Write's generation

	// Owned by the thread: sends kept until the buffer takes them, and
	// the newest write generation whose sends were cancelled.
	sendq     []*tcpSendMsg
	cancelGen uint64
	// The splices kept on the thread with this connection as source and
	// as destination (splice.go); the same one when spliced to itself.
	splice, spliceIn *tcpSpliceMsg
}

// A Write is cut into sends of at most sendChunk bytes, up to
// maxSendsInFlight of them outstanding: the writer keeps the protocol
// thread supplied and waits only when the send buffer is full.
const (
	sendChunk        = 64 << 10
	maxSendsInFlight = 8
)

type reader struct {
	m tcpRecvMsg
	w *waiter
}

type writer struct {
	ms [maxSendsInFlight]tcpSendMsg
	w  *waiter
}

func newTCPConn(s *Stack, p *proto, c *tcp.Conn) *TCPConn {
	tc := &TCPConn{
		s: s, p: p, c: c, local: c.LocalAddr(), remote: c.RemoteAddr(),
		rwake: make(chan struct{}, 1), wwake: make(chan struct{}, 1), closed: make(chan struct{}),
	}
	c.SetNotify(tc.notify)
	return tc
}

// notify runs on the owning thread.
func (c *TCPConn) notify(ev tcp.Event) {
	if ev&(tcp.EventReadable|tcp.EventError|tcp.EventClosed) != 0 {
		signal(c.rwake)
		c.readEvents.Add(1)
		if c.lwktReaders.Load() {
			c.p.loop.Thread().CPU().Wakeup(&c.readEvents)
		}
		if c.splice != nil {
			c.spliceEvent(c.p.loop.Thread().CPU())
		}
	}
	if ev&(tcp.EventWritable|tcp.EventConnected|tcp.EventError|tcp.EventClosed) != 0 {
		if len(c.sendq) > 0 {
			c.flushSends(c.p.loop.Thread().CPU())
		}
		if c.spliceIn != nil {
			c.spliceEvent(c.p.loop.Thread().CPU())
		}
		signal(c.wwake)
	}
}

// Thread returns the protocol thread that owns the connection.
func (c *TCPConn) Thread() int { return c.p.id }

func (c *TCPConn) opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if err == io.EOF {
		return io.EOF
	}
	return &net.OpError{Op: op, Net: "tcp", Source: net.TCPAddrFromAddrPort(c.local), Addr: net.TCPAddrFromAddrPort(c.remote), Err: err}
}

// isClosed reports whether Close was called.
func (c *TCPConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// ctl makes control call op on the owning thread.
func (c *TCPConn) ctl(op tcpOp, on bool) error {
	return c.s.call(c.p, &tcpMsg{op: op, c: c, on: on})
}

// Read reads received data, blocking until some is there, the peer
// closes (io.EOF), the connection fails, or the read deadline passes.
func (c *TCPConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.isClosed() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		if c.rdl.expired() {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if c.rd == nil {
			c.rd = &reader{w: newWaiter(1)}
		}
		m := &c.rd.m
		m.Init(m, c.rd.w.port, 0)
		m.c, m.b, m.n = c, b, 0
		c.s.post(c.p, m)
		select {
		case <-c.rd.w.ch:
		case <-c.p.loop.Exited():
			return 0, c.opErr("read", ErrClosed)
		}
		n, err := m.n, m.Err()
		m.b = nil
		if !errors.Is(err, tcp.ErrWouldBlock) {
			if errors.Is(err, tcp.ErrClosed) && c.isClosed() {
				err = net.ErrClosed
			}
			return n, c.opErr("read", err)
		}
		if err := c.rdl.wait(c.rwake, c.closed, c.s.down, net.ErrClosed); err != nil {
			return 0, c.opErr("read", err)
		}
	}
}

// Write queues all of b for sending, blocking while the send buffer is
// full. b is cut into sends posted to the owning thread without waiting
// for each (maxSendsInFlight outstanding); Write returns when every send
// has been replied, so b is not used after it returns. If the write
// deadline passes, the sends not yet complete are cancelled and the count
// of bytes queued (a prefix of b) is returned with the timeout.
func (c *TCPConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		if c.isClosed() {
			return 0, c.opErr("write", net.ErrClosed)
		}
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.isClosed() {
		return 0, c.opErr("write", net.ErrClosed)
	}
	if c.wdl.expired() {
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	c.wgen++
	gen := c.wgen
	if c.wr == nil {
		c.wr = &writer{w: newWaiter(maxSendsInFlight)}
	}
	wr := c.wr
	var (
		total    int                   // bytes queued by replied sends
		next     int                   // offset of the first byte not yet sent
		inflight int                   // sends outstanding
		free     [maxSendsInFlight]int // indexes of wr.ms not in flight: free[:nfree]
		nfree    int
		firstErr error
		canceled bool
	)
	for i := range wr.ms {
		free[i] = i
	}
	nfree = len(free)
	for next < len(b) || inflight > 0 {
		for firstErr == nil && !canceled && next < len(b) && nfree > 0 {
			nfree--
			m := &wr.ms[free[nfree]]
			end := min(next+sendChunk, len(b))
			m.Init(m, wr.w.port, 0)
			m.c, m.b, m.gen, m.n = c, b[next:end], gen, 0
			next = end
			inflight++
			c.s.post(c.p, m)
		}
		if inflight == 0 {
			break
		}
		t, changed := c.wdl.get()
		var timeout <-chan time.Time
		var tm *time.Timer
		if !t.IsZero() && !canceled {
			d := time.Until(t)
			if d <= 0 {
				canceled = true
				c.s.call(c.p, &tcpMsg{op: opCancelSends, c: c, gen: gen})
				continue
			}
			tm = time.NewTimer(d)
			timeout = tm.C
		}
		select {
		case r := <-wr.w.ch:
			m := r.(*tcpSendMsg)
			inflight--
			total += m.n
			if err := m.Err(); err != nil && firstErr == nil {
				firstErr = err
			}
			m.b = nil
			for i := range wr.ms {
				if &wr.ms[i] == m {
					free[nfree] = i
					nfree++
				}
			}
		case <-changed:
		case <-timeout:
		case <-c.p.loop.Exited():
			return total, c.opErr("write", ErrClosed)
		}
		if tm != nil {
			tm.Stop()
		}
	}
	switch {
	case firstErr == nil && canceled:
		firstErr = os.ErrDeadlineExceeded
	case errors.Is(firstErr, tcp.ErrClosed) && c.isClosed():
		firstErr = net.ErrClosed
	}
	return total, c.opErr("write", firstErr)
}

// CloseWrite sends FIN after the queued data (shutdown(SHUT_WR)).
func (c *TCPConn) CloseWrite() error {
	return c.opErr("close", c.ctl(opShutdown, false))
}

// Close closes the connection (FIN, or RST if unread data remains).
// Blocked Reads and Writes return net.ErrClosed.
func (c *TCPConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		if c.lwktReaders.Load() {
			c.s.sys.WakeupExternal(&c.readEvents)
		}
		err = c.ctl(opClose, false)
	})
	if err != nil && !errors.Is(err, tcp.ErrClosed) && !errors.Is(err, ErrClosed) {
		return c.opErr("close", err)
	}
	return nil
}

// SetNoDelay disables Nagle's algorithm (TCP_NODELAY).
func (c *TCPConn) SetNoDelay(on bool) error { return c.opErr("set", c.ctl(opNoDelay, on)) }

// SetKeepAlive turns keepalive probes on or off (SO_KEEPALIVE, with
// Linux's default timers).
func (c *TCPConn) SetKeepAlive(on bool) error { return c.opErr("set", c.ctl(opKeepAlive, on)) }

func (c *TCPConn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.local) }
func (c *TCPConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }
func (c *TCPConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}
func (c *TCPConn) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *TCPConn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// pickPort returns the next ephemeral port, in a rotating sequence, that
// is not a listening port and makes (port, remote) land on thread t. It
// reserves nothing: the owning tcp.Stack refuses a tuple still in use
// (and recycles one in TIME-WAIT), and the caller then asks again. So a
// port is reused for the same peer only after the whole range has gone
// round, as with Linux's connect() port selection.
func (s *Stack) pickPort(remote netip.AddrPort, t int) (uint16, error) {
	addr := s.iface().addr
	s.portsMu.Lock()
	defer s.portsMu.Unlock()
	const span = ephemeralHigh - ephemeralLow + 1
	for i := 0; i < span; i++ {
		p := s.nextEph
		s.nextEph++
		if s.nextEph > ephemeralHigh || s.nextEph < ephemeralLow {
			s.nextEph = ephemeralLow
		}
		if s.tcpPorts[p] != 0 {
			continue
		}
		if s.owner(netip.AddrPortFrom(addr, p), remote) != t {
			continue
		}
		return p, nil
	}
	return 0, fmt.Errorf("stack: no free port for %v on thread %d", remote, t)
}

func (s *Stack) reservePort(p uint16) error {
	s.portsMu.Lock()
	defer s.portsMu.Unlock()
	if s.tcpPorts[p] != 0 {
		return fmt.Errorf("stack: tcp port %d: %w", p, tcp.ErrAddrInUse)
	}
	s.tcpPorts[p]++
	return nil
}

// reserveEphemeral takes a free ephemeral port for a listener.
func (s *Stack) reserveEphemeral() (uint16, error) {
	s.portsMu.Lock()
	defer s.portsMu.Unlock()
	for i := 0; i <= ephemeralHigh-ephemeralLow; i++ {
		p := s.nextEph
		s.nextEph++
		if s.nextEph > ephemeralHigh || s.nextEph < ephemeralLow {
			s.nextEph = ephemeralLow
		}
		if s.tcpPorts[p] == 0 {
			s.tcpPorts[p]++
			return p, nil
		}
	}
	return 0, fmt.Errorf("stack: no free port to listen on")
}

func (s *Stack) releasePort(p uint16) {
	s.portsMu.Lock()
	if s.tcpPorts[p]--; s.tcpPorts[p] <= 0 {
		delete(s.tcpPorts, p)
	}
	s.portsMu.Unlock()
}

// DialTCP opens a connection to remote from a port chosen so the
// connection lands on the calling thread. Callers that are not protocol
// threads (goroutines) are spread round-robin over the threads.
func (s *Stack) DialTCP(ctx context.Context, remote netip.AddrPort) (*TCPConn, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	t := int(s.rr.Add(1)) % len(s.threads)
	return s.dialOn(ctx, t, remote)
}

// DialTCPFrom is DialTCP for a caller that runs on CPU cpu (an LWKT
// thread knows its CPU): the connection lands on that CPU's protocol
// thread (cpu mod Threads).
func (s *Stack) DialTCPFrom(ctx context.Context, cpu int, remote netip.AddrPort) (*TCPConn, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if cpu < 0 {
		return nil, fmt.Errorf("stack: dial from cpu %d", cpu)
	}
	return s.dialOn(ctx, cpu%len(s.threads), remote)
}

func (s *Stack) dialOn(ctx context.Context, t int, remote netip.AddrPort) (*TCPConn, error) {
	p := s.threads[t]
	var c *TCPConn
	var err error
	for tries := 0; c == nil && tries < 64; tries++ {
		var port uint16
		if port, err = s.pickPort(remote, t); err != nil {
			break
		}
		m := &tcpConnectMsg{s: s, local: netip.AddrPortFrom(s.iface().addr, port), remote: remote}
		if err = s.call(p, m); err == nil {
			c = m.conn
		}
		if err != nil && !errors.Is(err, tcp.ErrAddrInUse) {
			break
		}
	}
	if c == nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: err}
	}
	for {
		m := &tcpMsg{op: opState, c: c}
		if err := s.call(p, m); err != nil {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: err}
		}
		if m.err != nil {
			c.Close()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: m.err}
		}
		if m.state != tcp.StateSynSent {
			return c, nil
		}
		select {
		case <-c.wwake:
		case <-ctx.Done():
			c.closeOnce.Do(func() { close(c.closed) })
			c.ctl(opAbort, false)
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: ctx.Err()}
		case <-p.loop.Exited():
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: ErrClosed}
		}
	}
}

// TCPListener accepts connections completed by any thread. It implements
// net.Listener.
type TCPListener struct {
	s       *Stack
	addr    netip.AddrPort
	ls      []*tcp.Listener // ls[i] belongs to thread i
	acceptq chan *TCPConn
	closed  chan struct{}
	once    sync.Once
}

// ListenTCP listens on addr (unspecified address: any; port 0: an
// ephemeral one) in every thread's tcp.Stack.
func (s *Stack) ListenTCP(addr netip.AddrPort, backlog int) (*TCPListener, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if backlog <= 0 {
		backlog = 128
	}
	if addr.Port() == 0 {
		port, err := s.reserveEphemeral()
		if err != nil {
			return nil, err
		}
		addr = netip.AddrPortFrom(addr.Addr(), port)
	} else if err := s.reservePort(addr.Port()); err != nil {
		return nil, err
	}
	if !addr.Addr().IsValid() {
		addr = netip.AddrPortFrom(netip.IPv4Unspecified(), addr.Port())
	}
	l := &TCPListener{
		s: s, addr: addr, ls: make([]*tcp.Listener, len(s.threads)),
		// The accept queue spans threads; each thread's own backlog
		// holds what does not fit here.
		acceptq: make(chan *TCPConn, backlog*len(s.threads)),
		closed:  make(chan struct{}),
	}
	for _, p := range s.threads {
		if err := s.call(p, &tcpListenMsg{l: l, backlog: backlog}); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// drain runs on thread p: move completed connections to the shared queue.
func (l *TCPListener) drain(p *proto) {
	tl := l.ls[p.id]
	for {
		c, err := tl.Accept()
		if err != nil {
			return
		}
		tc := newTCPConn(l.s, p, c)
		select {
		case l.acceptq <- tc:
		default:
			p.ctr.drops[dropAcceptOverflow]++
			c.Abort()
		}
	}
}

// AcceptTCP waits for a connection.
func (l *TCPListener) AcceptTCP() (*TCPConn, error) {
	select {
	case c := <-l.acceptq:
		return c, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	case <-l.s.down:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: ErrClosed}
	}
}

// Accept implements net.Listener.
func (l *TCPListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close stops listening on every thread and resets unaccepted connections.
func (l *TCPListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		for _, p := range l.s.threads {
			if tl := l.ls[p.id]; tl != nil {
				l.s.call(p, &tcpUnlistenMsg{tl: tl})
			}
		}
		for {
			select {
			case c := <-l.acceptq:
				c.Close()
				continue
			default:
			}
			break
		}
		l.s.releasePort(l.addr.Port())
	})
	return nil
}

func (l *TCPListener) Addr() net.Addr {
	a := l.addr
	if a.Addr().IsUnspecified() {
		a = netip.AddrPortFrom(l.s.iface().addr, a.Port())
	}
	return net.TCPAddrFromAddrPort(a)
}
