package vnet_test

import (
	"net/netip"
	"sync"
	"testing"

	"damselfly/net/ether"
	"damselfly/net/stack"
	"damselfly/sched"
	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// The kernel's arrangement on the host: a 2-CPU LWKT system, the driver's
// receive polls on pinned LWKT threads, the stack's protocol threads on
// the same CPUs, RSS steering each connection to its owner's queue.
func TestOnLWKTThreads(t *testing.T) {
	sys := sched.NewSystem(2, sched.Options{})
	sys.Start()
	defer sys.Stop()
	mem := virtiosim.NewMemory()
	sim := vnetsim.New(mem, vnetsim.Options{MAC: simMAC, Pairs: 2, RSS: true, Hash: true})
	defer sim.Close()
	tr, err := virtio.NewMMIO(virtiosim.MMIO{D: sim.Device})
	if err != nil {
		t.Fatal(err)
	}
	poller := vnet.NewLWKTPoller(sys, 2)
	drv, err := vnet.New(tr, mem, vnet.Options{Queues: 2, Schedule: poller.Schedule})
	if err != nil {
		t.Fatal(err)
	}
	sim.SetInterrupt(drv.Interrupt)
	poller.Start(drv)
	defer drv.Close()
	defer poller.Stop()
	a, err := stack.New(stack.Config{Link: drv, Addr: netip.MustParsePrefix("10.0.2.15/24"), Threads: 2, Loops: stack.SchedLoops(sys)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := stack.New(stack.Config{Link: sim.Wire(ether.MAC{2, 0, 0, 0, 0, 2}, 1500), Addr: netip.MustParsePrefix("10.0.2.2/24"), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := a.ListenTCP(netip.MustParseAddrPort("0.0.0.0:7"), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.AcceptTCP()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						c.Write(buf[:n])
					}
					if err != nil {
						c.CloseWrite()
						return
					}
				}
			}()
		}
	}()
	var wg sync.WaitGroup
	// 16 connections: the chance that RSS puts all on one of the two
	// queues is 2^-15, so both pollers must have run.
	const conns = 16
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echo(t, b, netip.MustParseAddrPort("10.0.2.15:7"), 20_000+i*999, uint64(100+i))
		}()
	}
	wg.Wait()
	if st := a.Stats().Total; st.TCP.PassiveOpen != conns || st.HopsIn != 0 {
		t.Fatalf("passive opens %d, hops %d", st.TCP.PassiveOpen, st.HopsIn)
	}
	for _, q := range drv.Stats().Queues {
		if q.Polls == 0 || q.RxFrames == 0 {
			t.Fatalf("queue %d: %d polls, %d frames", q.Queue, q.Polls, q.RxFrames)
		}
	}
}
