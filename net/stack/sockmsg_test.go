package stack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"testing"

	"damselfly/net/link"
	"damselfly/net/tcp"
	"damselfly/sched"
)

// msgEnv is two stacks on one 2-CPU LWKT system (threads pinned to CPU i
// mod 2) joined by a clean pipe, with a connection from A to B's port 7.
type msgEnv struct {
	sys      *sched.System
	a, b     *Stack
	cli, srv *TCPConn
}

func newMsgEnv(t *testing.T, threads int) *msgEnv {
	t.Helper()
	e := &msgEnv{sys: sched.NewSystem(2, sched.Options{})}
	e.sys.Start()
	pipe := link.NewPipe(link.PipeConfig{})
	// Small buffers, so that a few sends fill them.
	small := func(c *tcp.Config) { c.SendBufSize, c.RecvBufSize = 64<<10, 64<<10 }
	var err error
	if e.a, err = New(Config{Link: pipe.A, Addr: addrA, Threads: threads, Loops: SchedLoops(e.sys), TCP: small}); err != nil {
		t.Fatal(err)
	}
	if e.b, err = New(Config{Link: pipe.B, Addr: addrB, Threads: threads, Loops: SchedLoops(e.sys), TCP: small}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.a.Close()
		e.b.Close()
		for _, s := range []*Stack{e.a, e.b} {
			for _, p := range s.threads {
				<-p.loop.Exited()
			}
		}
		e.sys.Stop()
	})
	e.cli, e.srv = dialAccept(t, e.a, e.b, 7)
	return e
}

// dialAccept listens on port of to, dials it from from and returns both
// ends of the connection; the listener is closed at the test's cleanup.
func dialAccept(t *testing.T, from, to *Stack, port uint16) (dialed, accepted *TCPConn) {
	t.Helper()
	l, err := to.ListenTCP(netip.AddrPortFrom(netip.Addr{}, port), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if dialed, err = from.DialTCP(context.Background(), netip.AddrPortFrom(to.Addr(), port)); err != nil {
		t.Fatal(err)
	}
	if accepted, err = l.AcceptTCP(); err != nil {
		t.Fatal(err)
	}
	return dialed, accepted
}

// recv reads at least one byte from c by messages, waiting for the
// readable notification between tries.
func recv(t *testing.T, c *TCPConn, b []byte) (int, error) {
	t.Helper()
	for {
		m := &tcpRecvMsg{c: c, b: b}
		err := c.s.call(c.p, m)
		if !errors.Is(err, tcp.ErrWouldBlock) {
			return m.n, err
		}
		<-c.rwake
	}
}

type strayMsg struct{ sched.Msg }

// Every socket op as a message, with the error its reply carries.
func TestSocketMessageReplies(t *testing.T) {
	e := newMsgEnv(t, 2)
	a, p := e.a, e.cli.p
	state := &tcpMsg{op: opState, c: e.cli}
	if err := a.call(p, state); err != nil || state.state != tcp.StateEstablished || state.err != nil {
		t.Fatalf("state: %v %v %v", err, state.state, state.err)
	}
	if err := a.call(p, &tcpRecvMsg{c: e.cli, b: make([]byte, 10)}); !errors.Is(err, tcp.ErrWouldBlock) {
		t.Fatalf("recv with nothing there: %v, want ErrWouldBlock", err)
	}
	dup := &tcpConnectMsg{s: a, local: e.cli.local, remote: e.cli.remote}
	if err := a.call(p, dup); !errors.Is(err, tcp.ErrAddrInUse) {
		t.Fatalf("connect on a tuple in use: %v", err)
	}
	l := &TCPListener{s: a, addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 99), ls: make([]*tcp.Listener, 2)}
	if err := a.call(p, &tcpListenMsg{l: l, backlog: 1}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	if err := a.call(p, &tcpListenMsg{l: l, backlog: 1}); !errors.Is(err, tcp.ErrAddrInUse) {
		t.Fatalf("second listen on the thread: %v", err)
	}
	if err := a.call(p, &tcpUnlistenMsg{tl: l.ls[p.id]}); err != nil {
		t.Fatalf("unlisten: %v", err)
	}
	for _, op := range []tcpOp{opNoDelay, opKeepAlive} {
		if err := a.call(p, &tcpMsg{op: op, c: e.cli, on: true}); err != nil {
			t.Fatalf("option %d: %v", op, err)
		}
	}
	if err := a.call(p, &tcpMsg{op: 200, c: e.cli}); !errors.Is(err, errNotSocketMsg) {
		t.Fatalf("unknown op: %v", err)
	}
	w := newWaiter(1)
	stray := &strayMsg{}
	stray.Init(stray, w.port, 0)
	a.sys.SendMsgExternal(p.loop.Port(), stray)
	if err := (<-w.ch).Base().Err(); !errors.Is(err, errNotSocketMsg) {
		t.Fatalf("foreign message type: %v", err)
	}
	// Data both ways, then the peer's half close reads as EOF.
	if err := e.b.call(e.srv.p, &tcpSendMsg{c: e.srv, b: []byte("ping"), gen: 1}); err != nil {
		t.Fatalf("send: %v", err)
	}
	buf := make([]byte, 10)
	if n, err := recv(t, e.cli, buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("recv: %q %v", buf[:n], err)
	}
	if err := e.b.call(e.srv.p, &tcpMsg{op: opShutdown, c: e.srv}); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := recv(t, e.cli, buf); err != io.EOF {
		t.Fatalf("recv after peer's FIN: %v, want EOF", err)
	}
	if err := a.call(p, &tcpMsg{op: opClose, c: e.cli}); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := a.call(p, &tcpMsg{op: opClose, c: e.cli}); !errors.Is(err, tcp.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	// A send reaching a closed connection is refused, nothing queued.
	m := &tcpSendMsg{c: e.cli, b: []byte("late"), gen: 1}
	if err := a.call(p, m); !errors.Is(err, tcp.ErrClosed) || m.n != 0 {
		t.Fatalf("send after close: n %d err %v", m.n, err)
	}
	if err := a.call(p, &tcpRecvMsg{c: e.cli, b: buf}); !errors.Is(err, tcp.ErrClosed) {
		t.Fatalf("recv after close: %v", err)
	}
	// sendto: replied (to the sink) at once, counted on the thread.
	u := &udpSendMsg{src: netip.AddrPortFrom(a.Addr(), 5000), dst: netip.AddrPortFrom(e.b.Addr(), 5001), d: make([]byte, 8)}
	if err := a.call(a.threads[0], u); err != nil {
		t.Fatalf("udp send: %v", err)
	}
}

// Many asynchronous sends in flight on one connection: the ones the send
// buffer cannot take are kept, in order, until the peer reads; each reply
// says how much of its slice was queued, and the peer gets every byte in
// order. Then a close reaches sends still kept: they are replied with the
// error and the bytes they did queue.
func TestManySendsInFlight(t *testing.T) {
	e := newMsgEnv(t, 2)
	const n, size = 48, 16 << 10 // 768 KiB: well over send buffer + window
	data := pattern(3, n*size)
	w := newWaiter(n)
	msgs := make([]tcpSendMsg, n)
	for i := range msgs {
		m := &msgs[i]
		m.Init(m, w.port, 0)
		m.c, m.b, m.gen = e.cli, data[i*size:(i+1)*size], 1
		e.a.post(e.cli.p, m)
	}
	// The peer has read nothing: the last send cannot have been queued
	// whole, so the thread keeps some.
	var kept int
	onThread(e.a, e.cli.p, func() { kept = len(e.cli.sendq) })
	if kept == 0 {
		t.Fatal("no send kept while the peer reads nothing")
	}
	got := make([]byte, 0, len(data))
	buf := make([]byte, 64<<10)
	for len(got) < len(data) {
		k, err := e.srv.Read(buf)
		if err != nil {
			t.Fatalf("peer read after %d: %v", len(got), err)
		}
		got = append(got, buf[:k]...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data out of order or corrupt")
	}
	for i := 0; i < n; i++ {
		r := (<-w.ch).(*tcpSendMsg)
		if r != &msgs[i] {
			t.Fatalf("reply %d is not for send %d: replies out of order", i, i)
		}
		if r.Err() != nil || r.n != size {
			t.Fatalf("send %d: n %d err %v", i, r.n, r.Err())
		}
	}
	// Fill the pipe again, then close under the kept sends.
	for i := range msgs {
		msgs[i].Init(&msgs[i], w.port, 0)
		msgs[i].n = 0
		e.a.post(e.cli.p, &msgs[i])
	}
	onThread(e.a, e.cli.p, func() { kept = len(e.cli.sendq) })
	if kept == 0 {
		t.Fatal("no send kept on the second round")
	}
	if err := e.a.call(e.cli.p, &tcpMsg{op: opAbort, c: e.cli}); err != nil {
		t.Fatal(err)
	}
	failed, queued := 0, 0
	for range msgs {
		r := (<-w.ch).(*tcpSendMsg)
		queued += r.n
		if r.Err() != nil {
			failed++
			if r.n == size {
				t.Fatalf("send replied with %v after queuing all of it", r.Err())
			}
		}
	}
	if failed == 0 || queued >= n*size {
		t.Fatalf("abort under kept sends: %d failed, %d bytes queued", failed, queued)
	}
}

// Cancelling sends of a write (its deadline passed) replies the kept ones
// with os.ErrDeadlineExceeded and fails later ones of that write on
// arrival, so what was queued is a prefix; a newer write is unaffected.
func TestCancelSends(t *testing.T) {
	e := newMsgEnv(t, 1)
	w := newWaiter(16)
	data := pattern(4, 16*(16<<10))
	msgs := make([]tcpSendMsg, 16)
	for i := range msgs {
		msgs[i].Init(&msgs[i], w.port, 0)
		msgs[i].c, msgs[i].b, msgs[i].gen = e.cli, data[i*(16<<10):(i+1)*(16<<10)], 5
		e.a.post(e.cli.p, &msgs[i])
	}
	if err := e.a.call(e.cli.p, &tcpMsg{op: opCancelSends, c: e.cli, gen: 5}); err != nil {
		t.Fatal(err)
	}
	late := &tcpSendMsg{c: e.cli, b: []byte("x"), gen: 5}
	if err := e.a.call(e.cli.p, late); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("send of a cancelled write: %v", err)
	}
	queued, sawErr := 0, false
	for range msgs {
		r := (<-w.ch).(*tcpSendMsg)
		if r.Err() == nil {
			if sawErr {
				t.Fatal("a send completed after one of the same write was cancelled")
			}
			queued += r.n
			continue
		}
		if !errors.Is(r.Err(), os.ErrDeadlineExceeded) {
			t.Fatalf("cancelled send: %v", r.Err())
		}
		if !sawErr {
			queued += r.n // the partly queued one
		}
		sawErr = true
	}
	if !sawErr {
		t.Fatal("nothing was cancelled")
	}
	next := &tcpSendMsg{c: e.cli, b: []byte("y"), gen: 6}
	if err := e.a.call(e.cli.p, next); err != nil {
		t.Fatalf("send of the next write: %v", err)
	}
	// The peer sees exactly the prefix, then the next write's byte.
	e.cli.CloseWrite()
	got, err := io.ReadAll(e.srv)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), data[:queued]...), 'y')
	if !bytes.Equal(got, want) {
		t.Fatalf("peer got %d bytes, want the %d-byte prefix and the next write", len(got), queued)
	}
}

// A DoMsg from an LWKT thread on the protocol thread's CPU, while that
// thread waits on its port, is served in the caller (no switch); from
// another CPU, or from a goroutine, it is queued for the thread.
func TestDoMsgInlineVersusQueued(t *testing.T) {
	e := newMsgEnv(t, 2)
	p := e.a.threads[0] // on CPU 0
	counts := func() (uint64, uint64) { return p.loop.Counters() }
	f0, q0 := counts()
	var ran *sched.Thread
	e.sys.Run(0, sched.ThreadOpts{Name: "user", Prio: sched.PriUser}, func(td *sched.Thread) {
		m := &funcMsg{fn: func() { ran = p.loop.Thread().CPU().Current() }}
		m.Init(m, nil, 0)
		if err := td.DoMsg(p.loop.Port(), &m.Msg); err != nil {
			t.Errorf("inline DoMsg: %v", err)
		}
	})
	f1, q1 := counts()
	if f1 != f0+1 || q1 != q0 {
		t.Fatalf("same CPU: inline %d->%d queued %d->%d, want one inline", f0, f1, q0, q1)
	}
	if ran == nil || ran == p.loop.Thread() {
		t.Fatalf("inline message ran on %v, want the calling thread", ran)
	}
	e.sys.Run(1, sched.ThreadOpts{Name: "user", Prio: sched.PriUser}, func(td *sched.Thread) {
		m := &funcMsg{fn: func() { ran = p.loop.Thread().CPU().Current() }}
		m.Init(m, nil, 0)
		if err := td.DoMsg(p.loop.Port(), &m.Msg); err != nil {
			t.Errorf("queued DoMsg: %v", err)
		}
	})
	f2, q2 := counts()
	if f2 != f1 || q2 != q1+1 {
		t.Fatalf("other CPU: inline %d->%d queued %d->%d, want one queued", f1, f2, q1, q2)
	}
	if ran != p.loop.Thread() {
		t.Fatalf("queued message ran on %v, want the protocol thread", ran)
	}
	if err := e.a.call(p, &statsMsg{}); err != nil {
		t.Fatal(err)
	}
	if f3, q3 := counts(); f3 != f2 || q3 != q2+1 {
		t.Fatalf("goroutine: inline %d->%d queued %d->%d, want one queued", f2, f3, q2, q3)
	}
	if st := e.a.Stats().Threads[0]; st.MsgInline != f2 || st.MsgQueued < q2+1 {
		t.Fatalf("stats: inline %d queued %d", st.MsgInline, st.MsgQueued)
	}
}

// Stopping a protocol thread answers what is queued with ErrClosed, and
// callers blocked on a stopped thread return.
func TestStopAnswersQueuedMessages(t *testing.T) {
	e := newMsgEnv(t, 1)
	p := e.b.threads[0]
	// From inside a message, queue four more behind it and stop.
	w := newWaiter(4)
	ms := make([]statsMsg, 4)
	onThread(e.b, p, func() {
		c := p.loop.Thread().CPU()
		for i := range ms {
			ms[i].Init(&ms[i], w.port, 0)
			c.SendMsg(p.loop.Port(), &ms[i])
		}
		p.loop.Stop()
	})
	for range ms {
		r := <-w.ch
		if !errors.Is(r.Base().Err(), ErrClosed) {
			t.Fatalf("queued message answered %v, want ErrClosed", r.Base().Err())
		}
	}
	<-p.loop.Exited()
	if err := e.b.call(p, &statsMsg{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("call to a stopped thread: %v", err)
	}
	if _, err := e.srv.Write([]byte("x")); err == nil {
		t.Fatal("write on a stopped thread succeeded")
	}
}
