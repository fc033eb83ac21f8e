package sched

import (
	"damselfly/internal/cpumeter"
	"slices"
	"sync"
	"testing"
	"time"
)

// Benchmarks named so one run compares them (docs/lwkt.md records the figures):
// go test -run='^$' -bench=. -count=5 ./sched/ ./ipi/

// benchSpin is the idle polling the cross-CPU benchmarks use: an idle CPU polls its FIFOs
// this many turns before it waits on the doorbell, as DragonFly's idle loop polls before HLT.
const benchSpin = 2000

func benchHandler(td *Thread, m Message) error {
	m.(*testMsg).val++
	return nil
}

// handlerVar keeps the direct call from being inlined away, as a port's put is not.
var handlerVar = benchHandler

func BenchmarkDirectCall(b *testing.B) {
	s := startSystem(b, 1, Options{})
	s.Run(0, ThreadOpts{}, func(td *Thread) {
		m := newMsg(1, nil, 0)
		h := handlerVar
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h(td, m)
		}
	})
}

// BenchmarkDoMsgSync also reports x-direct: the median, over interleaved chunks, of the
// time of DoMsg over the time of a direct call. On a loaded machine that ratio is steadier
// than two ns/op figures measured seconds apart.
func BenchmarkDoMsgSync(b *testing.B) {
	s := startSystem(b, 1, Options{})
	s.Run(0, ThreadOpts{}, func(td *Thread) {
		p := NewServicePort(td, handlerVar)
		m := newMsg(1, nil, 0)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			td.DoMsg(p, &m.Msg)
		}
		b.StopTimer()
		h := handlerVar
		const chunk = 20000
		var ratios []float64
		for r := 0; r < 15; r++ {
			t0 := time.Now()
			for i := 0; i < chunk; i++ {
				h(td, m)
			}
			t1 := time.Now()
			for i := 0; i < chunk; i++ {
				td.DoMsg(p, &m.Msg)
			}
			t2 := time.Now()
			ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
		}
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "x-direct")
	})
}

// serve starts a service thread on cpu and returns its port once it serves.
func serve(s *System, cpu int) *Port {
	ready := make(chan *Port, 1)
	s.GoExternal(cpu, ThreadOpts{Name: "server"}, func(td *Thread) {
		p := NewServicePort(td, func(td *Thread, m Message) error {
			if m.(*testMsg).id < 0 {
				td.Exit()
			}
			return benchHandler(td, m)
		})
		ready <- p
		td.Serve(p)
	})
	return <-ready
}

func benchDoMsg(b *testing.B, ncpu, server int) {
	s := startSystem(b, ncpu, Options{IdleSpin: benchSpin})
	p := serve(s, server)
	s.Run(0, ThreadOpts{}, func(td *Thread) {
		m := newMsg(1, nil, 0)
		b.ResetTimer()
		cm := cpumeter.Start(b)
		for i := 0; i < b.N; i++ {
			td.DoMsg(p, &m.Msg)
		}
		b.StopTimer()
		cm.Stop()
		td.SendMsg(p, newMsg(-1, td.Port(), 0))
	})
}

func BenchmarkDoMsgAsyncSameCPU(b *testing.B) { benchDoMsg(b, 1, 0) }

func BenchmarkDoMsgCrossCPU(b *testing.B) { benchDoMsg(b, 2, 1) }

// BenchmarkThreadSwitch: two threads of one CPU yield to each other; one op is one switch
// from a thread to the other (through the scheduler loop).
func BenchmarkThreadSwitch(b *testing.B) {
	s := startSystem(b, 1, Options{})
	s.Run(0, ThreadOpts{}, func(td *Thread) {
		n := b.N / 2
		other := td.Go(0, ThreadOpts{}, func(o *Thread) {
			for i := 0; i < n; i++ {
				o.Yield()
			}
		})
		b.ResetTimer()
		cm := cpumeter.Start(b)
		for i := 0; i < n; i++ {
			td.Yield()
		}
		b.StopTimer()
		cm.Stop()
		waitFor(td, func() bool {
			select {
			case <-other.Done():
				return true
			default:
				return false
			}
		})
	})
}

// BenchmarkChanRoundTrip is the baseline: two goroutines ping-ponging on unbuffered channels.
func BenchmarkChanRoundTrip(b *testing.B) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	cm := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		ping <- i
		<-pong
	}
	b.StopTimer()
	cm.Stop()
	close(ping)
}

// mutexQueue is the mutex-and-condition-variable message queue that the LWKT design argues
// against (FreeBSD SMPng style).
type mutexQueue struct {
	mu   sync.Mutex
	cond sync.Cond
	q    []int
}

func newMutexQueue() *mutexQueue {
	mq := &mutexQueue{}
	mq.cond.L = &mq.mu
	return mq
}

func (mq *mutexQueue) put(v int) {
	mq.mu.Lock()
	mq.q = append(mq.q, v)
	mq.mu.Unlock()
	mq.cond.Signal()
}

func (mq *mutexQueue) get() int {
	mq.mu.Lock()
	for len(mq.q) == 0 {
		mq.cond.Wait()
	}
	v := mq.q[0]
	mq.q = mq.q[1:]
	mq.mu.Unlock()
	return v
}

// BenchmarkMutexQueue is the second baseline: a request/reply round trip between two
// goroutines through two mutex-protected queues with condition variables.
func BenchmarkMutexQueue(b *testing.B) {
	req, rep := newMutexQueue(), newMutexQueue()
	go func() {
		for {
			v := req.get()
			if v < 0 {
				return
			}
			rep.put(v + 1)
		}
	}()
	cm := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		req.put(i)
		rep.get()
	}
	b.StopTimer()
	cm.Stop()
	req.put(-1)
}
