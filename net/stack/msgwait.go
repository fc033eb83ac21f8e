package stack

import (
	"sync"

	"damselfly/sched"
)

// Callers outside the LWKT system (user goroutines: net/http handlers,
// tests, tapstack) are not threads: they cannot block in DoMsg. They send
// with a sched.ExternalSender (System.SendMsgExternal for one port, without
// an allocation per message), the send running on the target's CPU, and
// name as reply port a reply-only port whose reply function hands the
// message to a channel the goroutine waits on (sched's "reply port with a
// waiter"). The reply function runs on the replier's CPU and must never
// block: a waiter's channel holds as many messages as its owner may have
// in flight with it as reply port.
type waiter struct {
	port *sched.Port
	ch   chan sched.Message
}

func newWaiter(depth int) *waiter {
	w := &waiter{ch: make(chan sched.Message, depth)}
	w.port = sched.NewReplyPort("goroutine", func(_ *sched.CPU, _ *sched.Port, m sched.Message) {
		w.ch <- m
	})
	return w
}

// waiters recycles depth-1 waiters for one-shot calls. Package-level
// because a waiter belongs to no stack; a waiter is in the pool only while
// no message names it as reply port.
var waiters = sync.Pool{New: func() any { return newWaiter(1) }}

// call sends m to protocol thread p and waits for the reply: DoMsg for a
// caller outside the system. If the thread exits first (the stack
// closed) call returns ErrClosed and m is abandoned.
func (s *Stack) call(p *proto, m sockMsg) error {
	w := waiters.Get().(*waiter)
	m.Base().Init(m, w.port, 0)
	p.loop.sendExternal(m)
	select {
	case <-w.ch:
		waiters.Put(w)
		return m.Base().Err()
	case <-p.loop.Exited():
		return ErrClosed
	}
}

// post sends m to protocol thread p without waiting; the reply goes to
// m's reply port, which the caller has set with Init.
func (s *Stack) post(p *proto, m sockMsg) {
	p.loop.sendExternal(m)
}
