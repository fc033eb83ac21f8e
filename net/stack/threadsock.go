package stack

import (
	"errors"
	"net"

	"damselfly/net/tcp"
	"damselfly/sched"
)

// The socket calls of an LWKT thread (a kernel thread, not a goroutine).
// They send the same messages as the goroutine adapters, but with the
// thread's own primitives: td.DoMsg for recv and control calls (served in
// td's context when td runs on the owning thread's CPU and that thread is
// idle), td.SendMsg with td's port as reply port for sends, td.Sleep to
// wait for data. None blocks td's CPU. There are no deadlines here, and a
// call to a stack that has been closed never returns (a kernel's stack is
// never closed).

// ReadThread is Read for LWKT thread td.
func (c *TCPConn) ReadThread(td *sched.Thread, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.lwktReaders.Store(true)
	m := &tcpRecvMsg{c: c, b: b}
	m.Init(m, nil, 0)
	for {
		if c.isClosed() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		seen := c.readEvents.Load()
		err := td.DoMsg(c.p.loop.Port(), &m.Msg)
		if !errors.Is(err, tcp.ErrWouldBlock) {
			if errors.Is(err, tcp.ErrClosed) && c.isClosed() {
				err = net.ErrClosed
			}
			return m.n, c.opErr("read", err)
		}
		td.Sleep(&c.readEvents, -1, func() bool { return c.readEvents.Load() != seen || c.isClosed() })
	}
}

// WriteThread is Write for LWKT thread td: b is cut into sends, up to
// maxSendsInFlight outstanding, whose replies come back to td's port in
// order; it returns once all are replied.
func (c *TCPConn) WriteThread(td *sched.Thread, b []byte) (int, error) {
	if c.isClosed() {
		return 0, c.opErr("write", net.ErrClosed)
	}
	var ms [maxSendsInFlight]tcpSendMsg
	total, next, head, inflight := 0, 0, 0, 0
	var firstErr error
	for next < len(b) || inflight > 0 {
		for firstErr == nil && next < len(b) && inflight < len(ms) {
			m := &ms[(head+inflight)%len(ms)]
			end := min(next+sendChunk, len(b))
			m.Init(m, td.Port(), 0)
			// No deadlines: a generation no cancel reaches.
			m.c, m.b, m.gen, m.n = c, b[next:end], ^uint64(0), 0
			next = end
			inflight++
			td.SendMsg(c.p.loop.Port(), m)
		}
		if inflight == 0 {
			break
		}
		// Sends are replied in order: wait for the oldest.
		m := &ms[head]
		err := td.WaitMsg(m)
		head = (head + 1) % len(ms)
		inflight--
		total += m.n
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if errors.Is(firstErr, tcp.ErrClosed) && c.isClosed() {
		firstErr = net.ErrClosed
	}
	return total, c.opErr("write", firstErr)
}

// CloseThread is Close for LWKT thread td.
func (c *TCPConn) CloseThread(td *sched.Thread) error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		td.Wakeup(&c.readEvents)
		m := &tcpMsg{op: opClose, c: c}
		m.Init(m, nil, 0)
		err = td.DoMsg(c.p.loop.Port(), &m.Msg)
	})
	if err != nil && !errors.Is(err, tcp.ErrClosed) {
		return c.opErr("close", err)
	}
	return nil
}
