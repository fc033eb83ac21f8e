package lwktpoll_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"damselfly/internal/echotest"
	"damselfly/net/ether"
	"damselfly/net/stack"
	"damselfly/sched"
	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/lwktpoll"
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
	sim := vnetsim.New(mem, vnetsim.Options{MAC: [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}, Pairs: 2, RSS: true, Hash: true})
	defer sim.Close()
	tr, err := virtio.NewMMIO(virtiosim.MMIO{D: sim.Device})
	if err != nil {
		t.Fatal(err)
	}
	poller := lwktpoll.New(sys, 2)
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
	echotest.ServeReads(l, 32<<10)
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

func echo(t *testing.T, s *stack.Stack, dst netip.AddrPort, n int, seed uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.DialTCP(ctx, dst)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Errorf("read after %d bytes: %v", len(got), err)
		return
	}
	if err := <-werr; err != nil {
		t.Error(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("echo of %d bytes came back as %d", n, len(got))
	}
}
