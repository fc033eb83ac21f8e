package sched

import (
	"testing"
)

type testMsg struct {
	Msg
	v int
}

func TestSmoke(t *testing.T) {
	s := NewSystem(2, Options{})
	s.Start()
	defer s.Stop()
	var got int
	s.Run(0, ThreadOpts{Name: "main"}, func(td *Thread) {
		// A server on CPU 1.
		ready := make(chan *Port, 1)
		td.Go(1, ThreadOpts{Name: "srv"}, func(srv *Thread) {
			p := NewServicePort(srv, func(td *Thread, m Message) error {
				m.(*testMsg).v *= 2
				return nil
			})
			ready <- p
			srv.Serve(p)
		})
		var p *Port
		for p == nil {
			select {
			case p = <-ready:
			default:
				td.Yield()
			}
		}
		m := &testMsg{v: 21}
		m.Init(nil, 0)
		if err := td.DoMsg(p, m); err != nil {
			t.Errorf("DoMsg: %v", err)
		}
		got = m.v
		if m.Flags() != MsgDone|MsgReply {
			t.Errorf("flags after DoMsg = %v", m.Flags())
		}
	})
	if got != 42 {
		t.Fatalf("got %d", got)
	}
	t.Log(s.Stats())
}
