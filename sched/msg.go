package sched

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Messages (DragonFly's lwkt_msg). A message is a Msg embedded in the caller's own struct:
//
//	type readMsg struct {
//		sched.Msg
//		off int64
//	}
//
// The embedding gives the struct the Base method, so *readMsg is a Message. Init records
// the outer message in its header (m.Init(m, reply, opts)); receivers and handlers get that
// Message back and type-assert it. DoMsg takes the header itself (td.DoMsg(p, &m.Msg)), as
// lwkt_domsg takes the embedded lwkt_msg; the other entry points take the Message.
//
// Life cycle and flags. A message starts DONE (Init). SendMsg and DoMsg clear DONE and REPLY
// and hand it to the target port's put function, which either completes it in the caller's
// context and returns a result, or queues it (QUEUED while on a port) and returns EASYNC.
//   - DoMsg sets SYNC. A result: the message is DONE|REPLY and DoMsg returns the result, with
//     no reply-port traffic (the fast path). EASYNC: DoMsg waits for the reply.
//   - SendMsg: a result is stored and the message replied to its reply port, so the sender
//     always gets a reply message.
//   - ReplyMsg stores the error and sets REPLY; the reply port then sets DONE. A SYNC message
//     wakes its waiter without being queued; otherwise it is queued on the reply port
//     (DONE|REPLY|QUEUED) until received.
//   - ForwardMsg hands a received message to another port; AbortMsg calls the originator's
//     abort function for an ABORTABLE message not yet done; DropMsg takes a DROPABLE message
//     back off the port it is queued on, DONE without a reply.
//
// Ownership. A message's fields belong to whoever holds it: the originator until it sends,
// the target port's CPU (or lock) while it is queued there, the receiving thread while it
// works on it, the reply port's CPU once replied. Hand-offs go through IPIs or port locks,
// which order the memory accesses. The originator never reads the moving fields while the
// message is in flight: it looks at the atomic replied word, set by the reply port when
// it has taken the message back, and at originator-owned fields (opts, inflight).

// MsgFlags are a message's state and option bits (DragonFly's MSGF_*).
type MsgFlags uint32

const (
	MsgDone      MsgFlags = 1 << iota // not in flight: owned by the originator
	MsgReply                          // replied (ReplyMsg or a synchronous result)
	MsgQueued                         // on a port's queue
	MsgSync                           // the originator waits for it (DoMsg)
	MsgDropable                       // DropMsg may take it back off its port
	MsgAbortable                      // AbortMsg may call its abort function
	MsgPriority                       // queued on the port's priority queue, received first

	optionFlags = MsgDropable | MsgAbortable | MsgPriority
)

var flagNames = []string{"DONE", "REPLY", "QUEUED", "SYNC", "DROPABLE", "ABORTABLE", "PRIORITY"}

func (f MsgFlags) String() string {
	s := ""
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			if s != "" {
				s += "|"
			}
			s += n
		}
	}
	if s == "" {
		return "0"
	}
	return s
}

// EASYNC is what a put function returns when it queued the message: a reply follows.
var EASYNC = errors.New("sched: EASYNC: message queued, reply follows")

// ErrAborted is the conventional reply error of an aborted message.
var ErrAborted = errors.New("sched: message aborted")

// Message is anything embedding a Msg.
type Message interface {
	Base() *Msg
}

// Msg is the message header; embed it, and call Init with the embedding value before the
// first send. Do not copy a Msg once initialised (go vet reports copies: it holds atomics):
// it records the outer message it belongs to.
type Msg struct {
	// ReplyPort receives the reply. DoMsg uses the calling thread's port if it is nil.
	ReplyPort *Port
	// AbortFn is called by AbortMsg, in the aborting caller's context, for an ABORTABLE
	// message not yet done. It typically asks the target (by message) to finish the
	// message early; the target must tolerate an abort racing a completion.
	AbortFn func(c *CPU, m Message)

	// self is the outer message embedding this header, set by Init (nil: never
	// initialised). DoMsg hands it to the port's handler, and a port's queue gives it back
	// to the receiver, so neither goes through the Message interface's Base method.
	self Message

	opts     MsgFlags // option bits, set by Init; the originator's, read-only in flight
	flags    MsgFlags // state bits, owned by the holder
	err      error
	target   *Port // port it was last sent or forwarded to
	inflight bool  // originator's: sent and not completed on the fast path

	replied  atomic.Uint32 // 1 once the reply port has taken it back
	abortReq atomic.Uint32 // 1 once AbortMsg called for the current send

	// Queue linkage, owned by the port whose queue holds it.
	qnext, qprev *Msg
	onPort       *Port
}

// Base returns m itself; it makes every struct embedding Msg a Message.
func (m *Msg) Base() *Msg { return m }

// Init readies m for use: DONE, with reply port reply and the options in opts (DROPABLE,
// ABORTABLE, PRIORITY; other bits panic). self is the message m is the header of, the outer
// value embedding m (self.Base() must be m): receivers and handlers get self. It must not be
// in flight. As DragonFly's lwkt_initmsg.
//
//	m := &readMsg{off: 4096}
//	m.Init(m, nil, 0)
func (m *Msg) Init(self Message, reply *Port, opts MsgFlags) {
	if self == nil {
		panic("sched: Msg.Init: nil self (pass the message embedding this Msg)")
	}
	if self.Base() != m {
		panic(fmt.Sprintf("sched: Msg.Init: self (%T) does not embed this Msg: its Base is another header", self))
	}
	if opts&^optionFlags != 0 {
		panic(fmt.Sprintf("sched: Msg.Init: %v are not option flags", opts&^optionFlags))
	}
	if m.inflight && m.flags&MsgDone == 0 {
		panic("sched: Msg.Init on a message in flight")
	}
	m.self = self
	m.ReplyPort = reply
	m.opts = opts
	m.flags = MsgDone
	m.err = nil
	m.target = nil
	m.inflight = false
}

// Flags returns the state and option bits. Only the current holder may call it.
func (m *Msg) Flags() MsgFlags { return m.flags | m.opts }

// Err returns the reply error. Valid once the message is done.
func (m *Msg) Err() error { return m.err }

// Target returns the port the message was last sent or forwarded to. Holder only.
func (m *Msg) Target() *Port { return m.target }

// AbortRequested reports whether AbortMsg was called for the current send. Any CPU.
func (m *Msg) AbortRequested() bool { return m.abortReq.Load() != 0 }

// begin checks that m may be sent and resets the per-send state. Originator side.
func (m *Msg) begin(op string, p *Port) {
	if m.flags&(MsgDone|MsgQueued) != MsgDone || p == nil || m.opts&MsgAbortable != 0 || m.replied.Load() != 0 {
		m.beginSlow(op, p)
	}
	m.inflight = true
	m.target = p
	m.err = nil
}

// beginSlow is begin's rare part, out of line so that begin inlines into the send paths.
//
//go:noinline
func (m *Msg) beginSlow(op string, p *Port) {
	if m.self == nil {
		// Init never ran: flags are still 0, so begin's DONE test sent us here.
		panic("sched: " + op + ": message not initialised with Init (Msg.Init(self, reply, opts))")
	}
	if p == nil {
		panic("sched: " + op + ": nil port")
	}
	if m.flags&(MsgDone|MsgQueued) != MsgDone {
		// In flight, or replied but still queued on its reply port: either way a port's
		// queue still links it.
		panic(fmt.Sprintf("sched: %s: message in flight or not yet received back (flags %v)", op, m.Flags()))
	}
	if m.replied.Load() != 0 {
		m.replied.Store(0)
		m.inflight = false
	}
	if m.opts&MsgAbortable != 0 {
		m.abortReq.Store(0)
	}
}

// SendMsg sends m to p asynchronously: the reply arrives on m's reply port, even when p
// completes it at once. Called from CPU c's context; never blocks.
func (c *CPU) SendMsg(p *Port, m Message) {
	b := m.Base()
	if b.ReplyPort == nil {
		panic("sched: SendMsg: message has no reply port")
	}
	b.begin("SendMsg", p)
	b.flags = 0
	if err := p.putFn(c, p, m); err != EASYNC {
		c.replyMsg(m, err)
	}
}

// SendMsg is td.CPU().SendMsg for the running thread.
func (td *Thread) SendMsg(p *Port, m Message) {
	td.assertRunning("SendMsg").SendMsg(p, m)
}

// DoMsg sends the message whose header is m to p and waits for the result. If p's put
// function completes it in the caller's context this costs about a function call;
// otherwise the thread blocks until the reply. m's reply port must be one td can wait on
// (its own thread port, the default, or a spin port).
//
// DoMsg takes the header, as DragonFly's lwkt_domsg takes the embedded lwkt_msg: callers
// pass &om.Msg (or om.Base(), the same pointer and a static call) for their message om,
// and the port's put function or handler receives the outer message Init recorded
// (om itself). Taking *Msg rather than Message keeps the interface method call Base out of
// the synchronous fast path. The other entry points (SendMsg, ReplyMsg, ForwardMsg,
// AbortMsg, DropMsg, WaitMsg) take the Message as before: they are not on that path, and
// receivers hold the outer message.
//
// The fast path is a DoMsg from the owner of a service port (NewServicePort): the handler
// runs here, with no put function call, no reply-port traffic and no locked instruction.
// Everything that is not a plain send of a message at rest (a message never initialised,
// in flight, still queued after a reply, ABORTABLE, without a reply port yet, a nil port,
// a caller that is not the running thread) and every other port takes doMsgSlow.
func (td *Thread) DoMsg(p *Port, m *Msg) error {
	// One combined test, so the fast path pays one branch per check and no call. A
	// message never initialised has flags 0 (Init sets DONE), so it fails the first test.
	// inflight is only read by the originator, which is here, so it is set only if we
	// wait; it is already false (beginSlow clears it when a previous reply was taken by
	// GetMsg).
	if c := td.home; c == nil || c.cur != td || m.flags&(MsgDone|MsgQueued) != MsgDone ||
		m.ReplyPort == nil || p == nil || p.directFor != td || m.opts&MsgAbortable != 0 ||
		m.replied.Load() != 0 {
		return td.doMsgSlow(p, m)
	}
	if m.target != p { // (skips a write barrier when a message is reused on one port)
		m.target = p
	}
	m.flags = MsgSync
	// A service port's put with its owner as the caller: exactly what servicePut does,
	// without the indirect call.
	err := p.handler(td, m.self)
	if err == EASYNC {
		m.inflight = true
		return td.waitMsg(m)
	}
	if err != nil || m.err != nil {
		m.err = err
	}
	m.flags = MsgDone | MsgReply
	return err
}

// doMsgSlow is DoMsg for everything but the fast path: the checks that panic, the resets
// of a message reused after an asynchronous reply or an abort, the default reply port, and
// ports whose put function must run.
//
//go:noinline
func (td *Thread) doMsgSlow(p *Port, m *Msg) error {
	c := td.assertRunning("DoMsg")
	m.beginSlow("DoMsg", p)
	if m.ReplyPort == nil {
		// Before the put: a put function or handler may reply before it returns.
		m.ReplyPort = td.port
	}
	m.err = nil
	m.target = p
	m.flags = MsgSync
	if p.directFor != td {
		return td.doMsgPut(c, p, m)
	}
	// The handler call of DoMsg's fast path, repeated rather than shared: returning here
	// for DoMsg to run it (one copy) made the fast path 2.7-2.8x a direct call instead of
	// 2.0-2.3x (the frame and branches around the call change).
	err := p.handler(td, m.self)
	if err == EASYNC {
		m.inflight = true
		return td.waitMsg(m)
	}
	m.err = err
	m.flags = MsgDone | MsgReply
	return err
}

// doMsgPut is DoMsg through the port's put function.
func (td *Thread) doMsgPut(c *CPU, p *Port, b *Msg) error {
	err := p.putFn(c, p, b.self)
	if err != EASYNC {
		b.err = err
		b.flags = MsgDone | MsgReply
		return err
	}
	if p.owner == td && b.flags&MsgQueued != 0 && b.onPort == p {
		// Only td receives from p, and td is about to wait: it would wait forever.
		p.remove(b)
		b.flags = MsgDone
		panic(fmt.Sprintf("sched: DoMsg: thread %v sent to its own port %q, which only it receives from", td, p.name))
	}
	b.inflight = true
	return td.waitMsg(b)
}

// WaitMsg waits until m has been replied and returns its error, taking it off the reply
// port's queue if it was queued there. Called by the thread that waits on m's reply port.
func (td *Thread) WaitMsg(m Message) error {
	return td.waitMsg(m.Base())
}

// waitMsg is WaitMsg on the header.
func (td *Thread) waitMsg(b *Msg) error {
	td.assertRunning("WaitMsg")
	if !b.inflight {
		return b.err // completed on the fast path, or never sent
	}
	rp := b.ReplyPort
	rp.assertReceiver(td, "WaitMsg")
	rp.wait(td, &portWait{replied: b}, -1)
	rp.takeReply(b)
	return b.err
}

// ReplyMsg replies to m with err. Called from CPU c's context by whoever holds m (it must
// have been received, not queued). Replying twice panics.
func (c *CPU) ReplyMsg(m Message, err error) {
	b := m.Base()
	if b.flags&(MsgDone|MsgReply) != 0 {
		panic(fmt.Sprintf("sched: ReplyMsg: message already replied or not sent (flags %v)", b.Flags()))
	}
	if b.flags&MsgQueued != 0 {
		panic("sched: ReplyMsg: message is still queued on a port")
	}
	c.replyMsg(m, err)
}

// ReplyMsg is td.CPU().ReplyMsg for the running thread.
func (td *Thread) ReplyMsg(m Message, err error) {
	td.assertRunning("ReplyMsg").ReplyMsg(m, err)
}

func (c *CPU) replyMsg(m Message, err error) {
	b := m.Base()
	b.err = err
	b.flags |= MsgReply
	rp := b.ReplyPort
	if rp.kind == PortReplyOnly {
		// The message goes to the reply function: it is done and belongs to it now.
		b.flags |= MsgDone
		b.replied.Store(1)
	}
	rp.replyFn(c, rp, m)
}

// ForwardMsg hands a received message on to p, which then replies to the original reply
// port. It returns p's synchronous result (after replying with it) or EASYNC.
func (c *CPU) ForwardMsg(p *Port, m Message) error {
	b := m.Base()
	if b.flags&(MsgDone|MsgReply|MsgQueued) != 0 {
		panic(fmt.Sprintf("sched: ForwardMsg: message not held by a receiver (flags %v)", b.Flags()))
	}
	b.target = p
	err := p.putFn(c, p, m)
	if err != EASYNC {
		c.replyMsg(m, err)
	}
	return err
}

// AbortMsg asks for an ABORTABLE message in flight to be finished early: it records the
// request (see AbortRequested) and calls m's AbortFn in the caller's context. It returns
// false, doing nothing, if m is not abortable, not in flight, already replied or already
// aborted. Called by the originator.
func (c *CPU) AbortMsg(m Message) bool {
	b := m.Base()
	if b.opts&MsgAbortable == 0 || !b.inflight || b.replied.Load() != 0 {
		return false
	}
	if !b.abortReq.CompareAndSwap(0, 1) {
		return false
	}
	if b.AbortFn != nil {
		b.AbortFn(c, m)
	}
	return true
}

// DropMsg takes a DROPABLE message back off the port it was sent to, if it is still queued
// there: the message becomes DONE without a reply and DropMsg reports true. Called from the
// CPU owning that port (for a spin port, any CPU). The message must not have been forwarded.
func (c *CPU) DropMsg(m Message) bool {
	b := m.Base()
	if b.opts&MsgDropable == 0 {
		panic("sched: DropMsg: message is not DROPABLE")
	}
	p := b.target
	if p == nil || !b.inflight {
		return false
	}
	return p.drop(c, b)
}
