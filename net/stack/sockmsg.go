package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"damselfly/net/ipv4"
	"damselfly/net/tcp"
	"damselfly/sched"
)

// Socket messages: what user threads and goroutines send to a protocol
// thread's port (DragonFly's netmsg_* for pru_* calls). Each type embeds
// sched.Msg and serves itself on the owning thread: serve returns the
// reply error, or sched.EASYNC when it keeps the message and replies
// later (a send waiting for buffer space). Results travel back in the
// message's own fields; the reply carries the error.
//
// Which ops go by which path:
//   - control (listen, unlisten, connect, state, shutdown, close, abort,
//     setsockopt-like options, cancel sends) and recv: DoMsg semantics
//     (Stack.call for goroutines, td.DoMsg for LWKT threads);
//   - TCP send and UDP sendto: SendMsg with a reply port, several in
//     flight per writer (TCPConn.Write, UDPConn.WriteToUDPAddrPort);
//   - splice (TCPConn.ReadFrom from a connection of the same thread):
//     SendMsg, kept by the thread until the source's EOF (splice.go).
//
// Accept and UDP recvfrom take no message: completed connections and
// received datagrams are moved by the thread into queues of the listener
// or socket (as DragonFly's so_comp and so_rcv), which callers read.
type sockMsg interface {
	sched.Message
	serve(p *proto, c *sched.CPU) error
}

// errNotSocketMsg answers a message of a type no protocol thread serves.
var errNotSocketMsg = errors.New("stack: not a socket message")

// serveMsg is the protocol thread's message handler (Loop.serve).
func (p *proto) serveMsg(c *sched.CPU, m sched.Message) error {
	sm, ok := m.(sockMsg)
	if !ok {
		return fmt.Errorf("%w: %T", errNotSocketMsg, m)
	}
	return sm.serve(p, c)
}

// ---- TCP ----

// tcpOp is the op code of a tcpMsg: the small control calls on one
// connection.
type tcpOp uint8

const (
	opState        tcpOp = iota + 1 // report state and error
	opShutdown                      // shutdown(SHUT_WR): FIN after queued data
	opClose                         // close: FIN, or RST if unread data remains
	opAbort                         // reset now (a dial given up)
	opNoDelay                       // TCP_NODELAY = on
	opKeepAlive                     // SO_KEEPALIVE = on (Linux's default timers)
	opCancelSends                   // fail kept sends of writes up to gen (write deadline)
	opCancelSplice                  // fail the splices c takes part in (a deadline passed)
)

// tcpMsg is a control call on connection c.
type tcpMsg struct {
	sched.Msg
	op  tcpOp
	c   *TCPConn
	on  bool
	gen uint64
	// results
	state tcp.State
	err   error // the connection's error (opState)
}

func (m *tcpMsg) serve(p *proto, c *sched.CPU) error {
	tc := m.c
	switch m.op {
	case opState:
		m.state, m.err = tc.c.State(), tc.c.Err()
		return nil
	case opShutdown:
		return tc.c.CloseWrite()
	case opClose:
		err := tc.c.Close()
		tc.flushSends(c) // kept sends now fail with tcp.ErrClosed
		tc.endSplices(c, tcp.ErrClosed)
		return err
	case opAbort:
		tc.c.Abort()
		tc.flushSends(c)
		tc.endSplices(c, tcp.ErrClosed)
		return nil
	case opNoDelay:
		tc.c.SetNoDelay(m.on)
		return nil
	case opKeepAlive:
		tc.c.SetKeepAlive(m.on, 0, 0, 0)
		return nil
	case opCancelSends:
		tc.cancelSends(c, m.gen)
		return nil
	case opCancelSplice:
		tc.endSplices(c, os.ErrDeadlineExceeded)
		return nil
	}
	return fmt.Errorf("stack: tcp op %d: %w", m.op, errNotSocketMsg)
}

// tcpConnectMsg opens a connection from local to remote on the thread.
type tcpConnectMsg struct {
	sched.Msg
	s             *Stack
	local, remote netip.AddrPort
	conn          *TCPConn // result
}

func (m *tcpConnectMsg) serve(p *proto, c *sched.CPU) error {
	tc, err := p.tcp.Connect(m.local, m.remote)
	if err != nil {
		return err
	}
	m.conn = newTCPConn(m.s, p, tc)
	return nil
}

// tcpRecvMsg reads into b: tcp.ErrWouldBlock when nothing is there (the
// caller then waits for the connection's readable notification).
type tcpRecvMsg struct {
	sched.Msg
	c *TCPConn
	b []byte
	n int // result
}

func (m *tcpRecvMsg) serve(p *proto, c *sched.CPU) error {
	var err error
	m.n, err = m.c.c.Read(m.b)
	return err
}

// tcpSendMsg queues b for sending. It is sent asynchronously: the thread
// writes what the send buffer takes and keeps the message, in order behind
// any kept before it, until the rest fits; then it replies. n is how much
// of b was queued, also when the reply is an error.
type tcpSendMsg struct {
	sched.Msg
	c   *TCPConn
	b   []byte
	gen uint64 // the Write call it belongs to (opCancelSends)
	n   int
}

func (m *tcpSendMsg) serve(p *proto, c *sched.CPU) error {
	tc := m.c
	if m.gen <= tc.cancelGen {
		return os.ErrDeadlineExceeded
	}
	if len(tc.sendq) == 0 {
		if done, err := tc.trySend(m); done {
			return err
		}
	}
	tc.sendq = append(tc.sendq, m)
	return sched.EASYNC
}

// trySend writes as much of m as fits. done: m is complete or failed.
// Thread only.
func (tc *TCPConn) trySend(m *tcpSendMsg) (done bool, err error) {
	for m.n < len(m.b) {
		n, err := tc.c.Write(m.b[m.n:])
		m.n += n
		if errors.Is(err, tcp.ErrWouldBlock) || (err == nil && n == 0) {
			return false, nil
		}
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// flushSends completes kept sends, in order, while the connection takes
// data (or has failed: then each is replied with the error). Thread only.
func (tc *TCPConn) flushSends(c *sched.CPU) {
	for len(tc.sendq) > 0 {
		m := tc.sendq[0]
		done, err := tc.trySend(m)
		if !done {
			return
		}
		tc.sendq[0] = nil
		tc.sendq = tc.sendq[1:]
		c.ReplyMsg(m, err)
	}
	tc.sendq = nil
}

// cancelSends fails every kept send of a write up to gen, and makes
// sends of those writes still on their way fail on arrival, so that what
// was queued stays a prefix of the data written. Thread only.
func (tc *TCPConn) cancelSends(c *sched.CPU, gen uint64) {
	tc.cancelGen = max(tc.cancelGen, gen)
	kept := tc.sendq[:0]
	for _, m := range tc.sendq {
		if m.gen <= gen {
			c.ReplyMsg(m, os.ErrDeadlineExceeded)
			continue
		}
		kept = append(kept, m)
	}
	clear(tc.sendq[len(kept):])
	tc.sendq = kept
}

// tcpListenMsg enters listener l into the thread's tcp.Stack.
type tcpListenMsg struct {
	sched.Msg
	l       *TCPListener
	backlog int
}

func (m *tcpListenMsg) serve(p *proto, c *sched.CPU) error {
	l := m.l
	tl, err := p.tcp.Listen(l.addr, m.backlog)
	if err != nil {
		return err
	}
	l.ls[p.id] = tl
	tl.SetNotify(func() { l.drain(p) })
	return nil
}

// tcpUnlistenMsg takes the listener out of the thread's tcp.Stack.
type tcpUnlistenMsg struct {
	sched.Msg
	tl *tcp.Listener
}

func (m *tcpUnlistenMsg) serve(p *proto, c *sched.CPU) error {
	m.tl.Close()
	return nil
}

// ---- UDP ----

// udpSendMsg sends a built UDP datagram (header and payload) from src to
// dst: sendto, asynchronous; the reply port is the stack's sink.
type udpSendMsg struct {
	sched.Msg
	src, dst netip.AddrPort
	d        []byte
}

func (m *udpSendMsg) serve(p *proto, c *sched.CPU) error {
	p.ctr.udpOut++
	p.output(ipv4.ProtoUDP, m.src.Addr(), m.dst.Addr(), m.d, false)
	return nil
}

// ---- the stack ----

// statsMsg snapshots the thread's counters.
type statsMsg struct {
	sched.Msg
	st ThreadStats
}

func (m *statsMsg) serve(p *proto, c *sched.CPU) error {
	m.st = p.snapshot()
	return nil
}

// connsMsg lists the thread's TCP connections.
type connsMsg struct {
	sched.Msg
	list []tcp.ConnInfo
}

func (m *connsMsg) serve(p *proto, c *sched.CPU) error {
	m.list = p.tcp.Connections()
	return nil
}
