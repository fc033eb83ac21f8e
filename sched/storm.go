package sched

import (
	"fmt"
	"sync/atomic"
)

// Storm is the LWKT self-test (the kernel's selftest=lwkt): a cross-CPU message storm. Each
// CPU runs a pinned server thread with a service port and cfg.ClientsPerCPU client threads;
// every client sends cfg.MsgsPerClient messages to the servers of the other CPUs in turn,
// alternating DoMsg and SendMsg+WaitMsg, and checks that each came back handled exactly
// once. Called from outside the system (a plain goroutine); it waits for the storm to end.

// StormConfig sizes a storm. Zero fields take defaults (8 clients per CPU, 64 messages each).
type StormConfig struct {
	ClientsPerCPU int
	MsgsPerClient int
}

// StormResult counts what a storm did (counter deltas over the storm).
type StormResult struct {
	CPUs        int
	Msgs        uint64 // messages sent and replied
	IPIsSent    uint64
	IPIsAvoided uint64 // sends that needed no doorbell
	Switches    uint64
}

// String is the self-test line the kernel prints.
func (r StormResult) String() string {
	return fmt.Sprintf("lwkt: ok cpus=%d msgs=%d ipis=%d/%d switches=%d", r.CPUs, r.Msgs, r.IPIsSent, r.IPIsAvoided, r.Switches)
}

type stormMsg struct {
	Msg
	seq  int
	hits int // set by the server: must be 1 when the reply is back
	quit bool
}

// Storm runs a message storm on s and reports its counts, or what went wrong.
func Storm(s *System, cfg StormConfig) (StormResult, error) {
	if cfg.ClientsPerCPU <= 0 {
		cfg.ClientsPerCPU = 8
	}
	if cfg.MsgsPerClient <= 0 {
		cfg.MsgsPerClient = 64
	}
	n := s.NCPU()
	before := s.Stats()

	ports := make(chan struct {
		cpu int
		p   *Port
	}, n)
	servers := make([]*Thread, n)
	for cpu := 0; cpu < n; cpu++ {
		servers[cpu] = s.GoExternal(cpu, ThreadOpts{Name: "storm-server", Pinned: true}, func(td *Thread) {
			p := NewServicePort(td, func(td *Thread, m Message) error {
				sm := m.(*stormMsg)
				if sm.quit {
					td.Exit()
				}
				sm.hits++
				return nil
			})
			ports <- struct {
				cpu int
				p   *Port
			}{cpu, p}
			td.Serve(p)
		})
	}
	portOf := make([]*Port, n)
	for range n {
		r := <-ports
		portOf[r.cpu] = r.p
	}

	var bad, done atomic.Int64
	var clients []*Thread
	for cpu := 0; cpu < n; cpu++ {
		for j := 0; j < cfg.ClientsPerCPU; j++ {
			clients = append(clients, s.GoExternal(cpu, ThreadOpts{Name: "storm-client", Pinned: true}, func(td *Thread) {
				m := &stormMsg{}
				m.Init(m, td.Port(), 0)
				for k := 0; k < cfg.MsgsPerClient; k++ {
					target := (cpu + 1 + (j+k)%max(n-1, 1)) % n
					m.seq, m.hits = k, 0
					if k%2 == 0 {
						if err := td.DoMsg(portOf[target], &m.Msg); err != nil {
							bad.Add(1)
						}
					} else {
						td.SendMsg(portOf[target], m)
						if err := td.WaitMsg(m); err != nil {
							bad.Add(1)
						}
					}
					if m.hits != 1 {
						bad.Add(1)
					}
					done.Add(1)
				}
			}))
		}
	}
	for _, td := range clients {
		<-td.Done()
	}
	s.Run(0, ThreadOpts{Name: "storm-stop"}, func(td *Thread) {
		for cpu := 0; cpu < n; cpu++ {
			q := &stormMsg{quit: true}
			q.Init(q, td.Port(), 0)
			td.SendMsg(portOf[cpu], q)
		}
	})
	for _, td := range servers {
		<-td.Done()
	}

	after := s.Stats()
	r := StormResult{CPUs: n, Msgs: uint64(done.Load()),
		IPIsSent: after.IPI.Sent - before.IPI.Sent, IPIsAvoided: after.IPI.Avoided - before.IPI.Avoided}
	for i := range after.CPUs {
		r.Switches += after.CPUs[i].Switches - before.CPUs[i].Switches
	}
	want := uint64(n * cfg.ClientsPerCPU * cfg.MsgsPerClient)
	if b := bad.Load(); b != 0 || r.Msgs != want {
		return r, fmt.Errorf("lwkt storm: %d bad replies, %d of %d messages done", b, r.Msgs, want)
	}
	return r, nil
}
