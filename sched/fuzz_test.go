package sched

import (
	"fmt"
	"sync"
	"testing"
)

// FuzzMsgLifecycle drives four messages through random operations on thread, spin,
// synchronous and remote ports from one driver thread, against a model of the life cycle:
// after every operation each message's flags, the queues' contents and order, and the
// results of AbortMsg/DropMsg must match the model, and illegal operations must panic
// without changing anything.
func FuzzMsgLifecycle(f *testing.F) {
	f.Add([]byte{0x5a, 0, 0, 1, 0, 2, 0, 4, 0})
	f.Add([]byte{0xff, 0, 1, 0, 5, 6, 1, 7, 2, 1, 0, 3, 1, 2, 2, 4, 3, 5, 1})
	f.Add([]byte{0x12, 8, 0, 9, 1, 10, 2, 0, 3, 0, 18, 6, 3, 7, 3, 1, 2, 2, 3})
	f.Add([]byte{0x81, 0, 4, 0, 8, 0, 12, 1, 0, 1, 1, 3, 2, 2, 6, 4, 0, 4, 1, 5, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			ops = ops[:200]
		}
		s := fuzzSystem()
		var failure string
		s.Run(0, ThreadOpts{Name: "fuzz"}, func(td *Thread) {
			failure = runLifecycle(td, ops)
		})
		if failure != "" {
			t.Fatal(failure)
		}
	})
}

var (
	fuzzOnce sync.Once
	fuzzSys  *System
	fuzzRem  *Port
)

// fuzzSystem is one system shared by all fuzz inputs of the process (inputs run one at a
// time), with a service port on CPU 1 that doubles val.
func fuzzSystem() *System {
	fuzzOnce.Do(func() {
		fuzzSys = NewSystem(2, Options{FIFOSize: 4})
		fuzzSys.Start()
		ready := make(chan *Port, 1)
		fuzzSys.GoExternal(1, ThreadOpts{Name: "remote"}, func(td *Thread) {
			p := NewServicePort(td, func(td *Thread, m Message) error {
				m.(*testMsg).val *= 2
				return nil
			})
			ready <- p
			td.Serve(p)
		})
		fuzzRem = <-ready
	})
	return fuzzSys
}

type mstate int

const (
	stIdle mstate = iota
	stQueued
	stHeld
	stReplyQueued
)

type model struct {
	m        *testMsg
	st       mstate
	at       int // port index while queued
	flags    MsgFlags
	inflight bool
	replied  bool
	aborted  bool
}

// mqueue models a port's two queues.
type mqueue struct{ norm, prio []int }

func (q *mqueue) push(i int, prio bool) {
	if prio {
		q.prio = append(q.prio, i)
	} else {
		q.norm = append(q.norm, i)
	}
}

func (q *mqueue) pop() int {
	if len(q.prio) > 0 {
		i := q.prio[0]
		q.prio = q.prio[1:]
		return i
	}
	if len(q.norm) > 0 {
		i := q.norm[0]
		q.norm = q.norm[1:]
		return i
	}
	return -1
}

func (q *mqueue) remove(i int) {
	for _, l := range []*[]int{&q.norm, &q.prio} {
		for k, v := range *l {
			if v == i {
				*l = append((*l)[:k], (*l)[k+1:]...)
				return
			}
		}
	}
}

func (q *mqueue) len() int { return len(q.norm) + len(q.prio) }

func runLifecycle(td *Thread, ops []byte) string {
	c := td.CPU()
	const nmsg = 4
	opt := byte(0)
	if len(ops) > 0 {
		opt, ops = ops[0], ops[1:]
	}
	// Ports 0..2 receive (two thread ports, one spin port); 3 completes synchronously.
	ports := []*Port{NewThreadPort(td), NewThreadPort(td), td.sys.NewSpinPort("spin"),
		NewPutPort("sync", func(c *CPU, p *Port, m Message) error { return errTest })}
	fast := NewServicePort(td, func(td *Thread, m Message) error { return nil })
	reply := td.Port()
	queues := make([]mqueue, 3)
	var replyQ mqueue
	ms := make([]*model, nmsg)
	for i := range ms {
		o := MsgFlags(0)
		if opt>>(2*i)&1 != 0 {
			o |= MsgDropable | MsgAbortable
		}
		if opt>>(2*i+1)&1 != 0 {
			o |= MsgPriority
		}
		ms[i] = &model{m: newMsg(i, reply, o), flags: MsgDone}
	}
	prio := func(i int) bool { return ms[i].m.opts&MsgPriority != 0 }
	toReply := func(i int) {
		ms[i].st, ms[i].flags, ms[i].replied = stReplyQueued, MsgDone|MsgReply|MsgQueued, true
		replyQ.push(i, prio(i))
	}
	send := func(i, port int) {
		mm := ms[i]
		mm.inflight, mm.replied, mm.aborted = true, false, false
		if port == 3 {
			toReply(i)
			return
		}
		mm.st, mm.at, mm.flags = stQueued, port, MsgQueued
		queues[port].push(i, prio(i))
	}
	expectPanic := func(what string, f func()) string {
		if _, ok := mustPanic(f); !ok {
			return what + " did not panic"
		}
		return ""
	}
	for n := 0; n+1 < len(ops); n += 2 {
		op, arg := ops[n]%11, int(ops[n+1])
		i := arg % nmsg
		mm := ms[i]
		port := arg / nmsg % 4
		var fail string
		switch op {
		case 0: // SendMsg
			if mm.st != stIdle {
				fail = expectPanic("send in flight", func() { td.SendMsg(ports[port], mm.m) })
				break
			}
			td.SendMsg(ports[port], mm.m)
			send(i, port)
		case 1: // GetMsg
			port %= 3
			want := queues[port].pop()
			got := td.GetMsg(ports[port])
			if (want < 0) != (got == nil) || (got != nil && got.(*testMsg).id != want) {
				fail = fmt.Sprintf("GetMsg port %d: got %v want %d", port, got, want)
				break
			}
			if want >= 0 {
				ms[want].st, ms[want].flags = stHeld, 0
			}
		case 2: // ReplyMsg
			if mm.st != stHeld {
				fail = expectPanic("reply not held", func() { td.ReplyMsg(mm.m, nil) })
				break
			}
			td.ReplyMsg(mm.m, nil)
			toReply(i)
		case 3: // ForwardMsg
			if mm.st != stHeld {
				fail = expectPanic("forward not held", func() { c.ForwardMsg(ports[port], mm.m) })
				break
			}
			err := c.ForwardMsg(ports[port], mm.m)
			if (port == 3) != (err == errTest) {
				fail = fmt.Sprintf("ForwardMsg to %d = %v", port, err)
			}
			if port == 3 {
				toReply(i)
			} else {
				mm.st, mm.at, mm.flags = stQueued, port, MsgQueued
				queues[port].push(i, prio(i))
			}
		case 4: // GetMsg on the reply port
			want := replyQ.pop()
			got := td.GetMsg(reply)
			if (want < 0) != (got == nil) || (got != nil && got.(*testMsg).id != want) {
				fail = fmt.Sprintf("GetMsg reply: got %v want %d", got, want)
				break
			}
			if want >= 0 {
				ms[want].st, ms[want].flags = stIdle, MsgDone|MsgReply
			}
		case 5: // WaitMsg (only where it cannot block)
			if mm.st == stQueued || mm.st == stHeld {
				break
			}
			td.WaitMsg(mm.m)
			if mm.st == stReplyQueued {
				replyQ.remove(i)
				mm.st, mm.flags = stIdle, MsgDone|MsgReply
			}
			mm.inflight = false
		case 6: // AbortMsg
			want := mm.m.opts&MsgAbortable != 0 && mm.inflight && !mm.replied && !mm.aborted
			if got := c.AbortMsg(mm.m); got != want {
				fail = fmt.Sprintf("AbortMsg = %v, want %v", got, want)
			}
			if want {
				mm.aborted = true
			}
		case 7: // DropMsg
			if mm.m.opts&MsgDropable == 0 {
				fail = expectPanic("drop not dropable", func() { c.DropMsg(mm.m) })
				break
			}
			want := mm.st == stQueued && mm.inflight
			if got := c.DropMsg(mm.m); got != want {
				fail = fmt.Sprintf("DropMsg = %v, want %v (state %d)", got, want, mm.st)
				break
			}
			if want {
				queues[mm.at].remove(i)
				mm.st, mm.flags, mm.inflight = stIdle, MsgDone, false
			}
		case 8, 9, 10: // DoMsg: fast path, remote thread, synchronous put
			p, wantErr := fast, error(nil)
			if op == 9 {
				p = fuzzRem
			} else if op == 10 {
				p, wantErr = ports[3], errTest
			}
			if mm.st != stIdle {
				fail = expectPanic("domsg in flight", func() { td.DoMsg(p, &mm.m.Msg) })
				break
			}
			if err := td.DoMsg(p, &mm.m.Msg); err != wantErr {
				fail = fmt.Sprintf("DoMsg op %d = %v", op, err)
			}
			mm.flags, mm.inflight, mm.replied, mm.aborted = MsgDone|MsgReply, false, op == 9, false
		}
		if fail != "" {
			return fmt.Sprintf("op %d (%d,%d): %s", n/2, op, arg, fail)
		}
		for k, x := range ms {
			if got, want := x.m.Flags(), x.flags|x.m.opts; got != want {
				return fmt.Sprintf("op %d (%d,%d): msg %d flags %v, want %v", n/2, op, arg, k, got, want)
			}
		}
		for k := range queues {
			if ports[k].Len() != queues[k].len() {
				return fmt.Sprintf("op %d: port %d holds %d, model %d", n/2, k, ports[k].Len(), queues[k].len())
			}
		}
		if reply.Len() != replyQ.len() {
			return fmt.Sprintf("op %d: reply port holds %d, model %d", n/2, reply.Len(), replyQ.len())
		}
	}
	// Drain so that nothing of this input leaks into the next one.
	for reply.Len() > 0 {
		td.GetMsg(reply)
	}
	return ""
}
