package stack

import (
	"net/netip"
	"sync"
	"testing"

	"damselfly/net/link"
	"damselfly/sched"
)

// The stack on LWKT threads: two stacks share one 2-CPU system, each
// protocol thread pinned to a CPU.
func TestEchoOnSchedThreads(t *testing.T) {
	sys := sched.NewSystem(2, sched.Options{})
	sys.Start()
	defer sys.Stop()
	pipe := link.NewPipe(link.PipeConfig{})
	a, err := New(Config{Link: pipe.A, Addr: addrA, Threads: 2, Loops: SchedLoops(sys)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{Link: pipe.B, Addr: addrB, Threads: 3, Loops: SchedLoops(sys)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echoServer(t, l)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exchange(t, a, netip.AddrPortFrom(b.Addr(), 7), 300_000, int64(i))
		}()
	}
	wg.Wait()
	if st := b.Stats().Total; st.TCP.PassiveOpen != 4 || st.HopsOut != 0 {
		t.Fatalf("passive opens %d hops %d", st.TCP.PassiveOpen, st.HopsOut)
	}
}
