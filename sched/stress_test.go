package sched

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"damselfly/ipi"
)

// TestStress runs 8 CPUs with tiny IPI FIFOs and thousands of threads that exchange
// messages across CPUs, migrate, take tokens and run cpusyncs, asserting on the way:
// every message is replied exactly once; at most one thread of a CPU runs at a time (the
// scheduler checks it on every switch, the threads check it again between their blocking
// calls); token holders never overlap; pinned threads never move.
func TestStress(t *testing.T) {
	const ncpu, clients, rounds = 8, 2000, 4
	s := startSystem(t, ncpu, Options{FIFOSize: 4})

	var (
		replies  = make([]atomic.Int32, clients*rounds)
		overlap  atomic.Int32 // exclusivity violations seen by threads
		onCPU    [ncpu]atomic.Pointer[Thread]
		tok      = NewToken("stress")
		inside   atomic.Int32 // exclusive token holders running now
		readers  atomic.Int32 // shared token holders running now
		badTok   atomic.Int32
		moved    atomic.Int32
		syncRuns atomic.Int64
		syncs    atomic.Int64
	)
	// section runs f as a non-blocking stretch of td, asserting nobody else on the CPU runs.
	section := func(td *Thread, f func()) {
		c := td.CPU().ID()
		if !onCPU[c].CompareAndSwap(nil, td) {
			overlap.Add(1)
			return
		}
		f()
		if !onCPU[c].CompareAndSwap(td, nil) {
			overlap.Add(1)
		}
	}

	// One server per CPU, pinned; handler counts the reply and sometimes yields first.
	servers := make([]*Port, ncpu)
	ready := make(chan struct{}, ncpu)
	for cpu := 0; cpu < ncpu; cpu++ {
		s.GoExternal(cpu, ThreadOpts{Name: "server", Pinned: true}, func(td *Thread) {
			servers[cpu] = NewServicePort(td, func(td *Thread, m Message) error {
				tm := m.(*testMsg)
				if tm.id < 0 {
					td.Exit()
				}
				if tm.id%3 == 0 {
					td.Yield()
				}
				section(td, func() {
					tm.val++
					replies[tm.id].Add(1)
				})
				return nil
			})
			ready <- struct{}{}
			td.Serve(servers[cpu])
		})
	}
	for range ncpu {
		<-ready
	}

	threads := make([]*Thread, 0, clients)
	for i := 0; i < clients; i++ {
		pinned := i%5 == 0
		prio := []Priority{PriUser, PriKernel, PriSoftInt}[i%3]
		threads = append(threads, s.GoExternal(i%ncpu, ThreadOpts{Name: "client", Prio: prio, Pinned: pinned}, func(td *Thread) {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			home := td.CPU()
			for k := 0; k < rounds; k++ {
				id := i*rounds + k
				m := newMsg(id, nil, 0)
				p := servers[r.IntN(ncpu)]
				if k%2 == 0 {
					if err := td.DoMsg(p, &m.Msg); err != nil {
						t.Errorf("DoMsg: %v", err)
					}
				} else {
					m.ReplyPort = td.Port()
					td.SendMsg(p, m)
					if err := td.WaitMsg(m); err != nil {
						t.Errorf("WaitMsg: %v", err)
					}
				}
				section(td, func() {
					if m.val != 1 {
						t.Errorf("message %d handled %d times", id, m.val)
					}
				})
				switch r.IntN(8) {
				case 0:
					if !pinned {
						td.Migrate(r.IntN(ncpu))
					}
				case 1:
					td.GetToken(tok)
					for j := 0; j < 2; j++ {
						section(td, func() {
							if inside.Add(1) != 1 || readers.Load() != 0 || tok.Owner() != td {
								badTok.Add(1)
							}
							inside.Add(-1)
						})
						td.Yield() // releases the token while switched out
					}
					td.RelToken(tok)
				case 2:
					td.GetSharedToken(tok)
					section(td, func() {
						readers.Add(1)
						if inside.Load() != 0 {
							badTok.Add(1)
						}
						readers.Add(-1)
					})
					td.Yield()
					td.RelToken(tok)
				case 3:
					if i%50 == 0 {
						c := td.CPU()
						syncs.Add(1)
						s.IPI().CPUSync(c.ID(), ipi.AllCPUs(ncpu), func(int, any) { syncRuns.Add(1) }, nil)
					}
				}
				if pinned && td.CPU() != home {
					moved.Add(1)
				}
			}
		}))
	}
	for _, td := range threads {
		<-td.Done()
	}
	for cpu := 0; cpu < ncpu; cpu++ {
		s.Run(cpu, ThreadOpts{}, func(td *Thread) { td.SendMsg(servers[cpu], newMsg(-1, td.Port(), 0)) })
	}
	for id := range replies {
		if n := replies[id].Load(); n != 1 {
			t.Fatalf("message %d replied %d times", id, n)
		}
	}
	if overlap.Load() != 0 || badTok.Load() != 0 || moved.Load() != 0 {
		t.Fatalf("overlaps %d, token violations %d, pinned moved %d", overlap.Load(), badTok.Load(), moved.Load())
	}
	if got, want := syncRuns.Load(), syncs.Load()*ncpu; got != want {
		t.Fatalf("cpusync functions ran %d times, want %d", got, want)
	}
	st := s.Stats()
	if st.IPI.FIFOFull == 0 {
		t.Errorf("FIFO-full path not exercised")
	}
	t.Logf("\n%v", st)
}
