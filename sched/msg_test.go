package sched

import (
	"strings"
	"testing"
)

// env is what each flag-transition case gets: a driver thread on CPU 0 whose own port is
// the reply port, a second thread port it owns (q), a spin port, a put-only port completing
// synchronously, a reply-only port recording replies, and a service port on CPU 1.
type env struct {
	t       *testing.T
	td      *Thread
	q       *Port
	spin    *Port
	sync    *Port // put-only: completes with errTest
	rep     *Port // reply-only
	replied []Message
	remote  *Port // service port on CPU 1: doubles val, replies nil
}

func (e *env) flags(m Message, want MsgFlags, when string) {
	e.t.Helper()
	if got := m.Base().Flags(); got != want {
		e.t.Errorf("%s: flags %v, want %v", when, got, want)
	}
}

func TestMsgFlagTransitions(t *testing.T) {
	cases := []struct {
		name string
		run  func(e *env)
	}{
		{"init", func(e *env) {
			e.flags(newMsg(1, e.td.Port(), 0), MsgDone, "after Init")
			e.flags(newMsg(1, e.td.Port(), MsgDropable|MsgPriority), MsgDone|MsgDropable|MsgPriority, "with options")
		}},
		{"init refuses a self that does not embed this header", func(e *env) {
			m, other := &testMsg{}, &testMsg{}
			if msg, ok := mustPanic(func() { m.Init(other, nil, 0) }); !ok || !strings.Contains(msg, "does not embed this Msg") {
				e.t.Errorf("Init with another message's header: %q %v", msg, ok)
			}
			if msg, ok := mustPanic(func() { m.Init(nil, nil, 0) }); !ok || !strings.Contains(msg, "nil self") {
				e.t.Errorf("Init with nil self: %q %v", msg, ok)
			}
			// The refused Init left m uninitialised: DoMsg must still refuse it.
			if msg, ok := mustPanic(func() { e.td.DoMsg(e.sync, &m.Msg) }); !ok || !strings.Contains(msg, "not initialised with Init") {
				e.t.Errorf("DoMsg after a refused Init: %q %v", msg, ok)
			}
		}},
		{"domsg on a message never initialised panics", func(e *env) {
			own := NewServicePort(e.td, func(td *Thread, m Message) error { return nil })
			for _, p := range []*Port{own, e.sync, e.q, e.remote} {
				m := &testMsg{}
				msg, ok := mustPanic(func() { e.td.DoMsg(p, &m.Msg) })
				if !ok || !strings.Contains(msg, "DoMsg: message not initialised with Init") {
					e.t.Errorf("DoMsg to %q of a message never initialised: %q %v", p.Name(), msg, ok)
				}
				if p.Len() != 0 {
					e.t.Errorf("port %q queued the refused message", p.Name())
				}
			}
			m := &testMsg{}
			m.ReplyPort = e.td.Port()
			if msg, ok := mustPanic(func() { e.td.SendMsg(e.q, m) }); !ok || !strings.Contains(msg, "SendMsg: message not initialised with Init") {
				e.t.Errorf("SendMsg of a message never initialised: %q %v", msg, ok)
			}
		}},
		{"handlers and receivers get the outer message", func(e *env) {
			type outer struct {
				testMsg
				tag string
			}
			var got Message
			own := NewServicePort(e.td, func(td *Thread, m Message) error { got = m; return nil })
			o := &outer{tag: "o"}
			o.Init(o, nil, 0)
			if err := e.td.DoMsg(own, &o.Msg); err != nil || got != Message(o) {
				e.t.Errorf("fast path handler got %T %v (err %v), want the outer message", got, got, err)
			}
			o.Init(o, e.td.Port(), 0)
			e.td.SendMsg(e.q, o)
			if r := e.td.GetMsg(e.q); r != Message(o) || r.(*outer).tag != "o" {
				e.t.Errorf("receiver got %T %v, want the outer message", r, r)
			}
			e.td.ReplyMsg(o, nil)
			if r := e.td.GetMsg(e.td.Port()); r != Message(o) {
				e.t.Errorf("reply port gave %T %v, want the outer message", r, r)
			}
		}},
		{"fast path handler keeps the message", func(e *env) {
			// The handler forwards to CPU 1 and returns EASYNC: the reply may come before
			// it returns, so DoMsg must have set the default reply port before calling it.
			own := NewServicePort(e.td, func(td *Thread, m Message) error {
				return td.CPU().ForwardMsg(e.remote, m)
			})
			m := newMsg(1, nil, 0)
			m.val = 1
			for i := 0; i < 3; i++ { // the second and third start from a reply taken back
				if err := e.td.DoMsg(own, &m.Msg); err != nil {
					e.t.Errorf("DoMsg %d = %v", i, err)
				}
				e.flags(m, MsgDone|MsgReply, "after a kept message's reply")
			}
			if m.val != 8 || m.ReplyPort != e.td.Port() {
				e.t.Errorf("val %d reply port %v", m.val, m.ReplyPort)
			}
		}},
		{"init rejects state bits", func(e *env) {
			if _, ok := mustPanic(func() { newMsg(1, nil, MsgQueued) }); !ok {
				e.t.Error("Init accepted QUEUED")
			}
		}},
		{"send queues then reply queues on reply port", func(e *env) {
			m := newMsg(1, e.td.Port(), 0)
			e.td.SendMsg(e.q, m)
			e.flags(m, MsgQueued, "queued on target")
			got := e.td.GetMsg(e.q)
			if got != Message(m) {
				e.t.Fatalf("GetMsg returned %v", got)
			}
			e.flags(m, 0, "received")
			e.td.ReplyMsg(m, errTest)
			e.flags(m, MsgDone|MsgReply|MsgQueued, "replied, on reply port")
			if r := e.td.GetMsg(e.td.Port()); r != Message(m) {
				e.t.Fatalf("reply port gave %v", r)
			}
			e.flags(m, MsgDone|MsgReply, "reply received")
			if m.Err() != errTest {
				e.t.Errorf("err %v", m.Err())
			}
		}},
		{"send with synchronous completion still replies", func(e *env) {
			m := newMsg(1, e.td.Port(), 0)
			e.td.SendMsg(e.sync, m)
			e.flags(m, MsgDone|MsgReply|MsgQueued, "completed synchronously")
			if err := e.td.WaitMsg(m); err != errTest {
				e.t.Errorf("WaitMsg = %v", err)
			}
			e.flags(m, MsgDone|MsgReply, "after WaitMsg")
			if e.td.Port().Len() != 0 {
				e.t.Error("WaitMsg left the reply queued")
			}
		}},
		{"domsg synchronous result", func(e *env) {
			m := newMsg(1, nil, 0)
			if err := e.td.DoMsg(e.sync, &m.Msg); err != errTest {
				e.t.Errorf("DoMsg = %v", err)
			}
			e.flags(m, MsgDone|MsgReply, "after DoMsg")
		}},
		{"domsg fast path on own service port", func(e *env) {
			var sawSync bool
			p := NewServicePort(e.td, func(td *Thread, m Message) error {
				sawSync = m.Base().Flags()&MsgSync != 0
				m.(*testMsg).val++
				return errTest
			})
			m := newMsg(1, nil, 0)
			if err := e.td.DoMsg(p, &m.Msg); err != errTest || m.val != 1 || !sawSync {
				e.t.Errorf("DoMsg = %v val %d sync %v", err, m.val, sawSync)
			}
			e.flags(m, MsgDone|MsgReply, "after fast path")
		}},
		{"domsg cross cpu", func(e *env) {
			m := newMsg(1, nil, 0)
			m.val = 21
			if err := e.td.DoMsg(e.remote, &m.Msg); err != nil || m.val != 42 {
				e.t.Errorf("DoMsg = %v val %d", err, m.val)
			}
			e.flags(m, MsgDone|MsgReply, "after remote DoMsg")
		}},
		{"sync reply is not queued", func(e *env) {
			// A sync message replied by its receiver: DONE|REPLY without QUEUED.
			m := newMsg(1, e.td.Port(), 0)
			m.Base().begin("test", e.q)
			m.flags = MsgSync
			e.q.Queue(e.td.CPU(), m)
			e.td.GetMsg(e.q)
			e.flags(m, MsgSync, "received sync")
			e.td.ReplyMsg(m, nil)
			e.flags(m, MsgDone|MsgReply|MsgSync, "sync replied")
			if e.td.Port().Len() != 0 {
				e.t.Error("sync reply was queued")
			}
			if err := e.td.WaitMsg(m); err != nil {
				e.t.Error(err)
			}
			e.flags(m, MsgDone|MsgReply, "after WaitMsg")
		}},
		{"reply twice panics", func(e *env) {
			m := newMsg(1, e.td.Port(), 0)
			e.td.SendMsg(e.q, m)
			e.td.GetMsg(e.q)
			e.td.ReplyMsg(m, nil)
			if msg, ok := mustPanic(func() { e.td.ReplyMsg(m, nil) }); !ok || !strings.Contains(msg, "already replied") {
				e.t.Errorf("second reply: %q %v", msg, ok)
			}
			e.td.WaitMsg(m)
		}},
		{"reply while queued panics", func(e *env) {
			m := newMsg(1, e.td.Port(), 0)
			e.td.SendMsg(e.q, m)
			if _, ok := mustPanic(func() { e.td.ReplyMsg(m, nil) }); !ok {
				e.t.Error("reply of a queued message accepted")
			}
			e.td.GetMsg(e.q)
			e.td.ReplyMsg(m, nil)
			e.td.WaitMsg(m)
		}},
		{"send in flight panics", func(e *env) {
			m := newMsg(1, e.td.Port(), 0)
			e.td.SendMsg(e.q, m)
			if _, ok := mustPanic(func() { e.td.SendMsg(e.q, m) }); !ok {
				e.t.Error("second send accepted")
			}
			e.flags(m, MsgQueued, "unchanged by the refused send")
			e.td.GetMsg(e.q)
			e.td.ReplyMsg(m, nil)
			e.td.WaitMsg(m)
		}},
		{"forward then reply goes to original reply port", func(e *env) {
			m := newMsg(1, e.td.Port(), 0)
			e.td.SendMsg(e.q, m)
			e.td.GetMsg(e.q)
			if err := e.td.CPU().ForwardMsg(e.spin, m); err != EASYNC {
				e.t.Errorf("ForwardMsg = %v", err)
			}
			e.flags(m, MsgQueued, "forwarded")
			if m.Target() != e.spin {
				e.t.Error("target not updated")
			}
			e.td.GetMsg(e.spin)
			e.td.ReplyMsg(m, errTest)
			if err := e.td.WaitMsg(m); err != errTest {
				e.t.Errorf("WaitMsg %v", err)
			}
			e.flags(m, MsgDone|MsgReply, "done")
		}},
		{"forward to synchronous port replies", func(e *env) {
			m := newMsg(1, e.td.Port(), 0)
			e.td.SendMsg(e.q, m)
			e.td.GetMsg(e.q)
			if err := e.td.CPU().ForwardMsg(e.sync, m); err != errTest {
				e.t.Errorf("ForwardMsg = %v", err)
			}
			e.flags(m, MsgDone|MsgReply|MsgQueued, "replied by forward")
			e.td.WaitMsg(m)
		}},
		{"abort", func(e *env) {
			calls := 0
			m := newMsg(1, e.td.Port(), MsgAbortable)
			m.AbortFn = func(c *CPU, am Message) {
				calls++
				// The target side: still queued, take it back and reply aborted.
				if e.q.Remove(c, am) {
					c.ReplyMsg(am, ErrAborted)
				}
			}
			c := e.td.CPU()
			if c.AbortMsg(m) {
				e.t.Error("abort of a message never sent")
			}
			e.td.SendMsg(e.q, m)
			if !c.AbortMsg(m) || !m.AbortRequested() || calls != 1 {
				e.t.Errorf("abort: requested %v calls %d", m.AbortRequested(), calls)
			}
			if c.AbortMsg(m) || calls != 1 {
				e.t.Error("second abort called the function again")
			}
			if err := e.td.WaitMsg(m); err != ErrAborted {
				e.t.Errorf("WaitMsg %v", err)
			}
			e.flags(m, MsgDone|MsgReply|MsgAbortable, "aborted")
			if c.AbortMsg(m) {
				e.t.Error("abort after reply")
			}
			plain := newMsg(2, e.td.Port(), 0)
			e.td.SendMsg(e.q, plain)
			if c.AbortMsg(plain) {
				e.t.Error("abort of a non-abortable message")
			}
			e.td.GetMsg(e.q)
			e.td.ReplyMsg(plain, nil)
			e.td.WaitMsg(plain)
		}},
		{"drop", func(e *env) {
			c := e.td.CPU()
			m := newMsg(1, e.td.Port(), MsgDropable)
			e.td.SendMsg(e.q, m)
			if !c.DropMsg(m) {
				e.t.Fatal("drop of a queued message failed")
			}
			e.flags(m, MsgDone|MsgDropable, "dropped")
			if e.q.Len() != 0 || c.DropMsg(m) {
				e.t.Error("dropped message still there")
			}
			e.td.SendMsg(e.q, m)
			e.td.GetMsg(e.q)
			if c.DropMsg(m) {
				e.t.Error("drop of a received message")
			}
			e.td.ReplyMsg(m, nil)
			e.td.WaitMsg(m)
			if _, ok := mustPanic(func() { c.DropMsg(newMsg(2, e.td.Port(), 0)) }); !ok {
				e.t.Error("drop of a non-dropable message accepted")
			}
		}},
		{"priority received first", func(e *env) {
			a := newMsg(1, e.td.Port(), 0)
			b := newMsg(2, e.td.Port(), MsgPriority)
			e.td.SendMsg(e.q, a)
			e.td.SendMsg(e.q, b)
			if m := e.td.GetMsg(e.q); m != Message(b) {
				e.t.Error("priority message not first")
			}
			if m := e.td.GetMsg(e.q); m != Message(a) {
				e.t.Error("normal message lost")
			}
			e.td.ReplyMsg(a, nil)
			e.td.ReplyMsg(b, nil)
			e.td.WaitMsg(a)
			e.td.WaitMsg(b)
		}},
		{"reply-only and put-only ports", func(e *env) {
			m := newMsg(1, e.rep, 0)
			e.td.SendMsg(e.q, m)
			e.td.GetMsg(e.q)
			e.td.ReplyMsg(m, nil)
			if len(e.replied) != 1 || e.replied[0] != Message(m) {
				e.t.Fatal("reply function not called")
			}
			e.flags(m, MsgDone|MsgReply, "given to reply function")
			if _, ok := mustPanic(func() { e.td.SendMsg(e.rep, newMsg(2, e.td.Port(), 0)) }); !ok {
				e.t.Error("put to reply-only port accepted")
			}
			if _, ok := mustPanic(func() { e.td.GetMsg(e.sync) }); !ok {
				e.t.Error("receive from put-only port accepted")
			}
		}},
		{"receive from another thread's port panics", func(e *env) {
			other := NewThreadPort(e.remote.Owner())
			if _, ok := mustPanic(func() { e.td.GetMsg(other) }); !ok {
				e.t.Error("foreign receive accepted")
			}
		}},
		{"spin port reply wakes waiter", func(e *env) {
			m := newMsg(1, e.spin, 0)
			e.td.SendMsg(e.q, m)
			e.td.GetMsg(e.q)
			e.td.ReplyMsg(m, errTest)
			e.flags(m, MsgDone|MsgReply|MsgQueued, "on spin reply port")
			if err := e.td.WaitMsg(m); err != errTest {
				e.t.Error(err)
			}
			e.flags(m, MsgDone|MsgReply, "after WaitMsg on spin port")
		}},
	}
	s := startSystem(t, 2, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.Run(0, ThreadOpts{Name: "driver"}, func(td *Thread) {
				e := &env{t: t, td: td, q: NewThreadPort(td), spin: s.NewSpinPort("spin")}
				e.sync = NewPutPort("sync", func(c *CPU, p *Port, m Message) error { return errTest })
				e.rep = NewReplyPort("rep", func(c *CPU, p *Port, m Message) { e.replied = append(e.replied, m) })
				ready := make(chan *Port, 1)
				srv := td.Go(1, ThreadOpts{Name: "remote"}, func(srv *Thread) {
					p := NewServicePort(srv, func(td *Thread, m Message) error {
						if m.(*testMsg).id < 0 {
							td.Exit()
						}
						m.(*testMsg).val *= 2
						return nil
					})
					ready <- p
					srv.Serve(p)
				})
				waitFor(td, func() bool {
					select {
					case e.remote = <-ready:
						return true
					default:
						return false
					}
				})
				tc.run(e)
				// Stop the server: a message whose handler exits the thread.
				td.SendMsg(e.remote, newMsg(-1, td.Port(), 0))
				waitFor(td, func() bool {
					select {
					case <-srv.Done():
						return true
					default:
						return false
					}
				})
			})
		})
	}
}
