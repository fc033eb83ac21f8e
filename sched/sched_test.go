package sched

import (
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPreemptionAndCriticalSections(t *testing.T) {
	cases := []struct {
		name string
		crit bool
		prio Priority
		want []string
	}{
		{"interrupt preempts at once", false, PriInt, []string{"L1", "I", "L2", "L3"}},
		{"critical section defers to CritExit", true, PriInt, []string{"L1", "L2", "I", "L3"}},
		{"softint preempts", false, PriSoftInt, []string{"L1", "I", "L2", "L3"}},
		{"kernel thread never preempts", false, PriKernel, []string{"L1", "L2", "L3", "I"}},
	}
	s := startSystem(t, 1, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log []string // only CPU 0 touches it
			s.Run(0, ThreadOpts{Prio: PriKernel}, func(td *Thread) {
				log = append(log, "L1")
				if tc.crit {
					td.CritEnter()
				}
				it := td.Go(0, ThreadOpts{Prio: tc.prio}, func(*Thread) { log = append(log, "I") })
				log = append(log, "L2")
				if tc.crit {
					td.CritExit()
				}
				log = append(log, "L3")
				waitFor(td, func() bool {
					select {
					case <-it.Done():
						return true
					default:
						return false
					}
				})
			})
			if !slices.Equal(log, tc.want) {
				t.Fatalf("order %v, want %v", log, tc.want)
			}
		})
	}
}

func TestRoundRobinAndPriority(t *testing.T) {
	s := startSystem(t, 1, Options{})
	var log []string
	s.Run(0, ThreadOpts{Prio: PriIdle}, func(td *Thread) {
		var ths []*Thread
		for _, n := range []string{"a", "b", "c"} {
			ths = append(ths, td.Go(0, ThreadOpts{Prio: PriUser}, func(u *Thread) {
				for range 2 {
					log = append(log, n)
					u.Yield()
				}
			}))
		}
		ths = append(ths, td.Go(0, ThreadOpts{Prio: PriKernel}, func(*Thread) { log = append(log, "K") }))
		for _, th := range ths {
			waitFor(td, func() bool {
				select {
				case <-th.Done():
					return true
				default:
					return false
				}
			})
		}
	})
	if want := []string{"K", "a", "b", "c", "a", "b", "c"}; !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}

func TestTokens(t *testing.T) {
	s := startSystem(t, 2, Options{})
	s.Run(0, ThreadOpts{}, func(td *Thread) {
		a, b := NewToken("a"), NewToken("b")
		td.GetToken(a)
		td.GetToken(a) // recursive
		td.GetSharedToken(a)
		td.GetToken(b)
		if a.Owner() != td || b.Owner() != td || !td.HoldsToken(a) {
			t.Error("not owner")
		}
		if _, ok := mustPanic(func() { td.RelToken(a) }); !ok {
			t.Error("out-of-order release accepted")
		}
		td.Yield() // released and re-acquired around the switch
		if a.Owner() != td || b.Owner() != td {
			t.Error("tokens not re-acquired after a switch")
		}
		td.RelToken(b)
		td.RelToken(a)
		td.RelToken(a)
		if a.Owner() != td {
			t.Error("recursive release dropped the outer hold")
		}
		td.RelToken(a)
		if a.Owner() != nil || b.Owner() != nil || a.SharedHolders() != 0 {
			t.Error("tokens still held")
		}
		td.GetSharedToken(a)
		if msg, ok := mustPanic(func() { td.GetToken(a) }); !ok || !strings.Contains(msg, "shared") {
			t.Errorf("upgrade: %q %v", msg, ok)
		}
		td.RelToken(a)
	})
	// Contention: a holder on CPU 1 blocks an acquirer on CPU 0 until it releases.
	tok := NewToken("c")
	var holding, release atomic.Bool
	var got atomic.Bool
	h := s.GoExternal(1, ThreadOpts{}, func(td *Thread) {
		td.GetToken(tok)
		holding.Store(true)
		for !release.Load() {
			td.Poll() // keeps running, so keeps the token
			runtime.Gosched()
		}
		td.RelToken(tok)
	})
	for !holding.Load() {
		runtime.Gosched()
	}
	w := s.GoExternal(0, ThreadOpts{}, func(td *Thread) {
		td.GetToken(tok)
		got.Store(true)
		td.RelToken(tok)
	})
	// Wait until the waiter has tried and failed at least once; it must not have got in.
	for tok.Misses() == 0 && !got.Load() {
		runtime.Gosched()
	}
	for i := 0; i < 100; i++ {
		runtime.Gosched()
	}
	if got.Load() {
		t.Fatal("token acquired while another running thread held it")
	}
	release.Store(true)
	<-h.Done()
	<-w.Done()
	if !got.Load() || tok.Misses() == 0 {
		t.Fatalf("got %v misses %d", got.Load(), tok.Misses())
	}
}

func TestMigrate(t *testing.T) {
	s := startSystem(t, 3, Options{})
	var path []int
	s.Run(0, ThreadOpts{}, func(td *Thread) {
		for _, cpu := range []int{1, 2, 0, 2} {
			td.Migrate(cpu)
			path = append(path, td.CPU().ID())
			td.Yield()
		}
	})
	if !slices.Equal(path, []int{1, 2, 0, 2}) {
		t.Fatalf("path %v", path)
	}
	s.Run(1, ThreadOpts{Pinned: true}, func(td *Thread) {
		if _, ok := mustPanic(func() { td.Migrate(0) }); !ok {
			t.Error("pinned thread migrated")
		}
	})
	if n := len(s.Threads()); n != 0 {
		t.Fatalf("%d threads left", n)
	}
}

func TestMisuseFromOutside(t *testing.T) {
	s := startSystem(t, 1, Options{})
	var td *Thread
	s.Run(0, ThreadOpts{}, func(x *Thread) { td = x })
	for name, f := range map[string]func(){
		"Yield":  td.Yield,
		"DoMsg":  func() { td.DoMsg(td.Port(), &newMsg(1, nil, 0).Msg) },
		"GetMsg": func() { td.GetMsg(td.Port()) },
	} {
		if msg, ok := mustPanic(f); !ok || !strings.Contains(msg, "not the running thread") {
			t.Errorf("%s from outside: %q %v", name, msg, ok)
		}
	}
}

func TestTimersManualClock(t *testing.T) {
	clk := NewManualClock()
	s := startSystem(t, 2, Options{Clock: clk})
	var slept, fired, stopped atomic.Bool
	var woke atomic.Int64
	td := s.GoExternal(1, ThreadOpts{}, func(td *Thread) {
		c := td.CPU()
		start := c.Now()
		c.AfterFunc(5*time.Millisecond, func(*CPU) { fired.Store(true) })
		t2 := c.AfterFunc(6*time.Millisecond, func(*CPU) { stopped.Store(true) })
		if !t2.Stop() || t2.Stop() {
			t.Error("Stop results")
		}
		td.SleepFor(10 * time.Millisecond)
		woke.Store(int64(c.Now() - start))
		slept.Store(true)
		if _, err := td.WaitPortTimeout(td.Port(), 3*time.Millisecond); err != ErrTimeout {
			t.Errorf("WaitPortTimeout = %v", err)
		}
		if err := td.Sleep(&slept, 2*time.Millisecond, nil); err != ErrTimeout {
			t.Errorf("Sleep = %v", err)
		}
	})
	for {
		select {
		case <-td.Done():
			if d := time.Duration(woke.Load()); d < 10*time.Millisecond {
				t.Fatalf("woke after %v of 10ms", d)
			}
			if !fired.Load() || stopped.Load() {
				t.Fatalf("fired %v stopped-timer ran %v", fired.Load(), stopped.Load())
			}
			return
		default:
			clk.Advance(time.Millisecond)
			runtime.Gosched()
		}
	}
}

func TestWaitPortTimeoutGetsMessage(t *testing.T) {
	clk := NewManualClock()
	s := startSystem(t, 2, Options{Clock: clk})
	got := make(chan bool, 1)
	var waiter atomic.Pointer[Thread]
	w := s.GoExternal(0, ThreadOpts{}, func(td *Thread) {
		waiter.Store(td)
		m, err := td.WaitPortTimeout(td.Port(), time.Hour)
		got <- err == nil && m.(*testMsg).id == 7
		td.ReplyMsg(m, nil)
	})
	for waiter.Load() == nil {
		runtime.Gosched()
	}
	s.Run(1, ThreadOpts{}, func(td *Thread) {
		m := newMsg(7, td.Port(), 0)
		td.SendMsg(waiter.Load().Port(), m)
		td.WaitMsg(m)
	})
	<-w.Done()
	if !<-got {
		t.Fatal("message not received")
	}
}

func TestSleepWakeupCrossCPU(t *testing.T) {
	s := startSystem(t, 4, Options{})
	var flag atomic.Bool
	ident := new(int)
	var sleepers []*Thread
	for cpu := 0; cpu < 3; cpu++ {
		sleepers = append(sleepers, s.GoExternal(cpu, ThreadOpts{}, func(td *Thread) {
			for !flag.Load() {
				td.Sleep(ident, -1, flag.Load)
			}
		}))
	}
	s.Run(3, ThreadOpts{}, func(td *Thread) {
		for i := 0; i < 10; i++ {
			td.Yield()
		}
		flag.Store(true)
		td.Wakeup(ident)
	})
	for _, th := range sleepers {
		<-th.Done()
	}
	for i := range s.sleepMasks {
		if m := s.sleepMasks[i].Load(); m != 0 {
			t.Fatalf("slot %d mask %b left set", i, m)
		}
	}
}

func TestStatsAndThreads(t *testing.T) {
	s := startSystem(t, 2, Options{})
	block := make(chan struct{})
	var parked atomic.Pointer[Thread]
	s.GoExternal(1, ThreadOpts{Name: "parked", Prio: PriUser, Pinned: true}, func(td *Thread) {
		parked.Store(td)
		td.Deschedule()
		td.Switch()
		close(block)
	})
	for parked.Load() == nil {
		runtime.Gosched()
	}
	var infos []ThreadInfo
	for {
		infos = s.Threads()
		if len(infos) == 1 && !infos[0].Running {
			break
		}
		runtime.Gosched()
	}
	if i := infos[0]; i.Name != "parked" || i.CPU != 1 || !i.Pinned || i.Prio != PriUser || i.Runnable || i.Switches != 1 {
		t.Fatalf("thread info %+v", i)
	}
	if out := FormatThreads(infos); !strings.Contains(out, "parked") || !strings.Contains(out, "block") {
		t.Fatalf("listing:\n%s", out)
	}
	s.ScheduleExternal(parked.Load())
	<-block
	<-parked.Load().Done()
	st := s.Stats()
	if st.Created != 1 || st.CPUs[1].Switches < 2 || !strings.Contains(st.String(), "switches") {
		t.Fatalf("stats %+v", st)
	}
}

func TestSendMsgExternalAndOwnPortDeadlock(t *testing.T) {
	s := startSystem(t, 2, Options{})
	ready := make(chan *Port, 1)
	replies := s.NewSpinPort("replies")
	srv := s.GoExternal(1, ThreadOpts{}, func(td *Thread) {
		ready <- td.Port()
		m := td.WaitPort(td.Port())
		td.ReplyMsg(m, errTest)
		// A DoMsg to its own plain port can only wait forever: refused.
		if msg, ok := mustPanic(func() { td.DoMsg(td.Port(), &newMsg(2, nil, 0).Msg) }); !ok || !strings.Contains(msg, "own port") {
			t.Errorf("own-port DoMsg: %q %v", msg, ok)
		}
		// The spin port got the reply; receive it here (any thread may).
		r := td.WaitPort(replies)
		if r.(*testMsg).id != 1 || r.Base().Err() != errTest {
			t.Errorf("reply %+v", r)
		}
	})
	s.SendMsgExternal(<-ready, newMsg(1, replies, 0))
	<-srv.Done()
}

func TestJoin(t *testing.T) {
	s := startSystem(t, 3, Options{})
	var order []string
	s.Run(0, ThreadOpts{}, func(td *Thread) {
		var kids []*Thread
		for cpu := 0; cpu < 3; cpu++ {
			kids = append(kids, td.Go(cpu, ThreadOpts{}, func(k *Thread) {
				for i := 0; i < 5; i++ {
					k.Yield()
				}
			}))
		}
		for _, k := range kids {
			td.Join(k)
		}
		order = append(order, "joined")
		td.Join(kids[0]) // already exited: returns at once
	})
	if len(order) != 1 {
		t.Fatal("Join did not return")
	}
}

// TestCritDefersRemoteWork: an interrupt thread created for CPU 0 from CPU 1 arrives as an
// IPI while CPU 0's thread is in a critical section; Poll there does nothing, and the work
// (adoption, then preemption) runs at the outermost CritExit.
func TestCritDefersRemoteWork(t *testing.T) {
	s := startSystem(t, 2, Options{})
	var log []string // appended on CPU 0 only
	var inCrit atomic.Bool
	sent := make(chan struct{})
	go func() {
		for !inCrit.Load() {
			runtime.Gosched()
		}
		s.Run(1, ThreadOpts{}, func(td *Thread) {
			td.Go(0, ThreadOpts{Prio: PriInt}, func(*Thread) { log = append(log, "interrupt") })
		})
		close(sent)
	}()
	s.Run(0, ThreadOpts{Prio: PriKernel}, func(td *Thread) {
		td.CritEnter()
		td.CritEnter()
		inCrit.Store(true)
		for !s.IPI().Pending(0) {
			runtime.Gosched()
		}
		td.Poll()
		if !s.IPI().Pending(0) {
			log = append(log, "Poll ran IPIs inside a critical section")
		}
		log = append(log, "polled in crit")
		td.CritExit()
		log = append(log, "inner exit")
		td.CritExit()
		log = append(log, "outer exit")
	})
	<-sent
	if want := []string{"polled in crit", "inner exit", "interrupt", "outer exit"}; !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}
