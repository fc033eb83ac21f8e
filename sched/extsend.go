package sched

// ExternalSender is SendMsgExternal for one port, without its per-message allocation: a
// sender outside the system (a user goroutine, a device goroutine) that sends many messages
// to the same port, such as a socket layer talking to a protocol thread. Each Send queues
// the message on the side queue of the CPU owning the port (CPU 0 for ports without an
// owner) and the send runs there as SendMsg; the reply goes to the message's reply port.
// Sends from one goroutine reach the port in order.
type ExternalSender struct {
	s  *System
	p  *Port
	fn func(cpu int, arg any) // the IPI function: SendMsg to p on cpu
}

// NewExternalSender returns a sender to p, a port of s.
func (s *System) NewExternalSender(p *Port) *ExternalSender {
	if p == nil {
		panic("sched: NewExternalSender: nil port")
	}
	e := &ExternalSender{s: s, p: p}
	e.fn = func(cpu int, arg any) { s.cpus[cpu].SendMsg(p, arg.(Message)) }
	return e
}

// Port returns the port the sender sends to.
func (e *ExternalSender) Port() *Port { return e.p }

// Send sends m to the port from outside the system. m must have a reply port.
func (e *ExternalSender) Send(m Message) {
	if m.Base().ReplyPort == nil {
		panic("sched: ExternalSender.Send: message has no reply port")
	}
	cpu := 0
	if e.p.owner != nil {
		cpu = e.p.owner.cpu.Load().id
	}
	e.s.ipi.SendExternal(cpu, e.fn, m)
}
