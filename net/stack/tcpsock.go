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
	"time"

	"damselfly/net/tcp"
)

// TCPConn is a TCP connection seen from outside the protocol threads. It
// implements net.Conn. The tcp.Conn inside belongs to thread p and is
// touched only through p.loop.Do; the notify callback (run on p) wakes
// blocked callers through rwake and wwake.
type TCPConn struct {
	s             *Stack
	p             *proto
	c             *tcp.Conn
	local, remote netip.AddrPort

	rwake, wwake chan struct{}
	rdl, wdl     deadline
	closed       chan struct{}
	closeOnce    sync.Once
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
	}
	if ev&(tcp.EventWritable|tcp.EventConnected|tcp.EventError|tcp.EventClosed) != 0 {
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

// Read reads received data, blocking until some is there, the peer
// closes (io.EOF), the connection fails, or the read deadline passes.
func (c *TCPConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		select {
		case <-c.closed:
			return 0, c.opErr("read", net.ErrClosed)
		default:
		}
		if c.rdl.expired() {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		var n int
		var err error
		if !c.p.loop.Do(func() { n, err = c.c.Read(b) }) {
			return 0, c.opErr("read", ErrClosed)
		}
		if !errors.Is(err, tcp.ErrWouldBlock) {
			return n, c.opErr("read", err)
		}
		if err := c.rdl.wait(c.rwake, c.closed, c.s.down, net.ErrClosed); err != nil {
			return 0, c.opErr("read", err)
		}
	}
}

// Write queues all of b for sending, blocking while the send buffer is
// full.
func (c *TCPConn) Write(b []byte) (int, error) {
	total := 0
	for total < len(b) {
		select {
		case <-c.closed:
			return total, c.opErr("write", net.ErrClosed)
		default:
		}
		if c.wdl.expired() {
			return total, c.opErr("write", os.ErrDeadlineExceeded)
		}
		var n int
		var err error
		rest := b[total:]
		if !c.p.loop.Do(func() { n, err = c.c.Write(rest) }) {
			return total, c.opErr("write", ErrClosed)
		}
		total += n
		if err != nil && !errors.Is(err, tcp.ErrWouldBlock) {
			return total, c.opErr("write", err)
		}
		if total < len(b) {
			if err := c.wdl.wait(c.wwake, c.closed, c.s.down, net.ErrClosed); err != nil {
				return total, c.opErr("write", err)
			}
		}
	}
	return total, nil
}

// CloseWrite sends FIN after the queued data (shutdown(SHUT_WR)).
func (c *TCPConn) CloseWrite() error {
	var err error
	if !c.p.loop.Do(func() { err = c.c.CloseWrite() }) {
		return ErrClosed
	}
	return c.opErr("close", err)
}

// Close closes the connection (FIN, or RST if unread data remains).
func (c *TCPConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		err = nil
		c.p.loop.Do(func() { err = c.c.Close() })
	})
	if err != nil && !errors.Is(err, tcp.ErrClosed) {
		return c.opErr("close", err)
	}
	return nil
}

// SetNoDelay disables Nagle's algorithm.
func (c *TCPConn) SetNoDelay(on bool) error {
	c.p.loop.Do(func() { c.c.SetNoDelay(on) })
	return nil
}

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
		local := netip.AddrPortFrom(s.iface().addr, port)
		if !p.loop.Do(func() {
			var tc *tcp.Conn
			tc, err = p.tcp.Connect(local, remote)
			if err == nil {
				c = newTCPConn(s, p, tc)
			}
		}) {
			err = ErrClosed
		}
		if err != nil && !errors.Is(err, tcp.ErrAddrInUse) {
			break
		}
	}
	if c == nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: err}
	}
	for {
		var st tcp.State
		var cerr error
		p.loop.Do(func() { st, cerr = c.c.State(), c.c.Err() })
		if cerr != nil {
			c.Close()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: cerr}
		}
		if st != tcp.StateSynSent {
			return c, nil
		}
		select {
		case <-c.wwake:
		case <-ctx.Done():
			p.loop.Do(func() { c.c.Abort() })
			c.closeOnce.Do(func() { close(c.closed) })
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: ctx.Err()}
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
		var err error
		p.loop.Do(func() {
			var tl *tcp.Listener
			tl, err = p.tcp.Listen(addr, backlog)
			if err == nil {
				l.ls[p.id] = tl
				tl.SetNotify(func() { l.drain(p) })
			}
		})
		if err != nil {
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
				p.loop.Do(func() { tl.Close() })
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
