package sched

import "testing"

// A goroutine sends messages to a service port through an ExternalSender: every one is
// served by the port's thread, in the order sent, and replied to the reply port.
func TestExternalSender(t *testing.T) {
	s := startSystem(t, 2, Options{})
	const n = 200
	served := make(chan int, n)
	ready := make(chan *Port)
	srv := s.GoExternal(1, ThreadOpts{Name: "server"}, func(td *Thread) {
		p := NewServicePort(td, func(td *Thread, m Message) error {
			tm := m.(*testMsg)
			if td.CPU().ID() != 1 {
				t.Errorf("message %d served on cpu %d", tm.id, td.CPU().ID())
			}
			served <- tm.id
			tm.val = tm.id * 2
			return nil
		})
		ready <- p
		for i := 0; i < n; i++ {
			m := td.WaitPort(p)
			td.ReplyMsg(m, p.handler(td, m))
		}
	})
	p := <-ready
	replies := make(chan Message, n)
	rp := NewReplyPort("waiter", func(_ *CPU, _ *Port, m Message) { replies <- m })
	e := s.NewExternalSender(p)
	if e.Port() != p {
		t.Fatal("Port() is not the target")
	}
	msgs := make([]*testMsg, n)
	for i := range msgs {
		msgs[i] = newMsg(i, rp, 0)
		e.Send(msgs[i])
	}
	for i := 0; i < n; i++ {
		if id := <-served; id != i {
			t.Fatalf("message %d served in place %d", id, i)
		}
	}
	got := map[int]bool{}
	for i := 0; i < n; i++ {
		m := (<-replies).(*testMsg)
		if m.val != m.id*2 || m.Err() != nil || got[m.id] {
			t.Fatalf("reply for %d: val %d err %v dup %v", m.id, m.val, m.Err(), got[m.id])
		}
		got[m.id] = true
	}
	<-srv.Done()
	if _, ok := mustPanic(func() { e.Send(&testMsg{}) }); !ok {
		t.Error("Send of a message without a reply port did not panic")
	}
}
