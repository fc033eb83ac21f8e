package tcp

import "errors"

// ErrOtherStack is returned by Splice when the two connections belong to
// different Stacks (threads): the bytes cannot move without a hand-off.
var ErrOtherStack = errors.New("tcp: splice between connections of different stacks")

// Splice moves up to max bytes from c's receive buffer to dst's send
// buffer in one copy, as Read into a buffer followed by dst.Write of it
// would, without the buffer (Linux's splice between two sockets, or
// OpenBSD's SO_SPLICE). dst may be c itself (an echo). It returns what
// it moved, or 0 and the reason nothing moved: c's Read errors (io.EOF,
// ErrWouldBlock when nothing is received, the connection's error), then
// dst's Write errors (ErrWouldBlock when the send buffer is full, which
// arms EventWritable). Nothing moved when nothing could; the caller waits
// for c's EventReadable and dst's EventWritable.
func (c *Conn) Splice(dst *Conn, max int) (int, error) {
	if dst.s != c.s {
		return 0, ErrOtherStack
	}
	if c.userClosed {
		return 0, ErrClosed
	}
	if dst.userClosed || dst.snd.finQueued {
		return 0, ErrClosed
	}
	if dst.err != nil {
		return 0, dst.err
	}
	if !dst.state.canSend() {
		return 0, ErrClosed
	}
	if c.rcv.buf.len() == 0 {
		return c.Read(nil) // io.EOF, the error or ErrWouldBlock; moves nothing
	}
	if max <= 0 {
		return 0, nil
	}
	c.s.now = c.s.cfg.Now()
	n := c.rcv.buf.moveTo(&dst.snd.buf, max)
	if n < max && c.rcv.buf.len() > 0 {
		dst.snd.wantWrite = true // the send buffer filled: resume on EventWritable
	}
	if n == 0 {
		c.s.flush()
		return 0, ErrWouldBlock
	}
	c.maybeWindowUpdate()
	dst.output()
	c.s.flush()
	return n, nil
}
