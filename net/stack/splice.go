package stack

// Splicing: TCPConn.ReadFrom with another TCPConn of the same protocol
// thread as source moves the bytes on the thread, from the source's
// receive buffer to the destination's send buffer in one copy
// (tcp.Conn.Splice), instead of a Read into the caller's buffer and a
// Write out of it (two copies, and two socket messages and their wakeups
// per buffer). io.Copy(dst, src) picks it, as it picks Linux's splice for
// two *net.TCPConn; an echo service is io.Copy(c, c).
//
// One tcpSpliceMsg carries the whole copy. The thread keeps it (like a
// kept send) on both connections and advances it whenever the source
// becomes readable or the destination writable; it is replied once the
// source reaches EOF (ReadFrom's nil error), either side fails or is
// closed, or the caller cancels it because a deadline passed. So the
// caller sleeps for the whole copy; nothing crosses between it and the
// thread per buffer.

import (
	"errors"
	"io"
	"net"
	"os"
	"time"

	"damselfly/net/tcp"
	"damselfly/sched"
)

// tcpSpliceMsg moves src's received bytes into dst's send buffer until
// src's EOF. n is how many moved, also when the reply is an error.
type tcpSpliceMsg struct {
	sched.Msg
	src, dst *TCPConn
	n        int64
}

func (m *tcpSpliceMsg) serve(p *proto, c *sched.CPU) error {
	if m.src.splice != nil || m.dst.spliceIn != nil {
		return errSpliceBusy // ReadFrom holds both locks: a caller bug
	}
	p.ctr.splices++
	if done, err := m.advance(); done {
		return err
	}
	m.src.splice, m.dst.spliceIn = m, m
	return sched.EASYNC
}

var errSpliceBusy = errors.New("stack: connection already spliced")

// advance moves what can be moved now. done: the splice is over, with
// err as its result (nil at the source's EOF). Thread only.
func (m *tcpSpliceMsg) advance() (done bool, err error) {
	for {
		n, err := m.src.c.Splice(m.dst.c, spliceStep)
		m.n += int64(n)
		m.src.p.ctr.spliceBytes += uint64(n)
		switch {
		case err == nil:
			continue
		case errors.Is(err, tcp.ErrWouldBlock):
			return false, nil
		case err == io.EOF:
			return true, nil
		default:
			return true, err
		}
	}
}

// spliceStep bounds one tcp.Splice call: the receive buffer is drained
// in steps that each end with the send side's output, so segments go out
// while the rest is moved.
const spliceStep = 64 << 10

// spliceEvent advances the splice kept on c (as source or destination)
// after an event. Thread only.
func (c *TCPConn) spliceEvent(cpu *sched.CPU) {
	for _, m := range [2]*tcpSpliceMsg{c.splice, c.spliceIn} {
		if m == nil {
			continue
		}
		if m.src.splice != m {
			continue // finished by the first iteration (c spliced to itself)
		}
		if done, err := m.advance(); done {
			m.finish(cpu, err)
		}
	}
}

// finish replies a kept splice with err. Thread only.
func (m *tcpSpliceMsg) finish(cpu *sched.CPU, err error) {
	m.src.splice, m.dst.spliceIn = nil, nil
	cpu.ReplyMsg(m, err)
}

// endSplices fails the splices c takes part in (c closed, aborted, or a
// deadline passed). Thread only.
func (c *TCPConn) endSplices(cpu *sched.CPU, err error) {
	if m := c.splice; m != nil {
		m.finish(cpu, err)
	}
	if m := c.spliceIn; m != nil {
		m.finish(cpu, err)
	}
}

// ReadFrom copies from r until EOF and returns the bytes copied
// (io.ReaderFrom). A *TCPConn source on the same protocol thread is
// spliced on the thread; any other reader is copied through a buffer.
// The source's read deadline and c's write deadline both bound a splice.
func (c *TCPConn) ReadFrom(r io.Reader) (int64, error) {
	src, ok := r.(*TCPConn)
	if !ok || src.s != c.s || src.p != c.p {
		return io.CopyBuffer(writerOnly{c}, r, make([]byte, sendChunk))
	}
	src.rmu.Lock()
	defer src.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if src.isClosed() {
		return 0, src.opErr("read", net.ErrClosed)
	}
	if c.isClosed() {
		return 0, c.opErr("write", net.ErrClosed)
	}
	w := newWaiter(1)
	m := &tcpSpliceMsg{src: src, dst: c}
	m.Init(m, w.port, 0)
	c.s.post(c.p, m)
	canceled := false
	for {
		var timeout <-chan time.Time
		var tm *time.Timer
		rt, rchanged := src.rdl.get()
		wt, wchanged := c.wdl.get()
		if t := earliest(rt, wt); !t.IsZero() && !canceled {
			d := time.Until(t)
			if d <= 0 {
				canceled = true
				c.s.call(c.p, &tcpMsg{op: opCancelSplice, c: src})
				continue
			}
			tm = time.NewTimer(d)
			timeout = tm.C
		}
		select {
		case <-w.ch:
			if tm != nil {
				tm.Stop()
			}
			err := m.Err()
			switch {
			case err == nil:
				return m.n, nil
			case errors.Is(err, os.ErrDeadlineExceeded):
				return m.n, c.opErr("write", err)
			case errors.Is(err, tcp.ErrClosed) && (src.isClosed() || c.isClosed()):
				err = net.ErrClosed
			}
			return m.n, c.opErr("readfrom", err)
		case <-rchanged:
		case <-wchanged:
		case <-timeout:
		case <-c.p.loop.Exited():
			if tm != nil {
				tm.Stop()
			}
			return 0, c.opErr("readfrom", ErrClosed)
		}
		if tm != nil {
			tm.Stop()
		}
	}
}

// earliest is the earlier of two deadlines, zero meaning none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// writerOnly hides TCPConn.ReadFrom from io.CopyBuffer, which would
// otherwise call it again.
type writerOnly struct{ io.Writer }
