package vnet_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"damselfly/net/ether"
	"damselfly/net/link"
	"damselfly/net/stack"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// queueTap gives the stack the device as its link, noting for every
// received TCP segment the queue pair it came in on.
type queueTap struct {
	*vnet.Device
	mu     sync.Mutex
	queues map[[2]netip.AddrPort]map[int]int // flow (remote, local) -> queue -> frames
}

// SetQueueReceiver records which queue each TCP segment arrived on, then
// passes it to the stack's receiver.
func (q *queueTap) SetQueueReceiver(r link.QueueReceiver) {
	q.Device.SetQueueReceiver(func(i int, f []byte, rss link.RSS) {
		if len(f) >= 54 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && f[23] == 6 {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(f[26:30])), binary.BigEndian.Uint16(f[34:]))
			dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(f[30:34])), binary.BigEndian.Uint16(f[36:]))
			q.mu.Lock()
			k := [2]netip.AddrPort{src, dst}
			if q.queues[k] == nil {
				q.queues[k] = map[int]int{}
			}
			q.queues[k][i]++
			q.mu.Unlock()
		}
		r(i, f, rss)
	})
}

func (q *queueTap) SetReceiver(r link.Receiver) {
	q.SetQueueReceiver(func(_ int, f []byte, rss link.RSS) { r(f, rss) })
}

// The appliance's configuration end to end: a stack with one protocol
// thread per queue pair on the driver, a peer stack on the far end of the
// simulated wire, TCP echo through both. With RSS every segment of a
// connection arrives on the queue of the thread that owns the connection,
// so the stack never hands a packet to another thread.
func TestStackOverDriver(t *testing.T) {
	for _, c := range []struct {
		threads   int
		rss, hash bool
	}{{4, true, true}, {3, true, false}, {2, false, false}} {
		t.Run(fmt.Sprintf("threads=%d/rss=%v/hash=%v", c.threads, c.rss, c.hash), func(t *testing.T) {
			r := newRig(t, c.threads == 3, vnetsim.Options{Pairs: 4, RSS: c.rss, Hash: c.hash}, vnet.Options{Queues: c.threads})
			tap := &queueTap{Device: r.drv, queues: map[[2]netip.AddrPort]map[int]int{}}
			a, err := stack.New(stack.Config{Link: tap, Addr: netip.MustParsePrefix("10.0.2.15/24"), Threads: c.threads})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			wire := r.sim.Wire(ether.MAC{2, 0, 0, 0, 0, 2}, 1500)
			b, err := stack.New(stack.Config{Link: wire, Addr: netip.MustParsePrefix("10.0.2.2/24"), Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if want := map[bool]string{true: "toeplitz", false: "ports"}[c.rss || c.hash]; a.Partition().Name() != want {
				t.Fatalf("partition %s, want %s", a.Partition().Name(), want)
			}
			l, err := a.ListenTCP(netip.MustParseAddrPort("0.0.0.0:7"), 64)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			owners := make(chan [3]any, 64)
			go func() {
				for {
					conn, err := l.AcceptTCP()
					if err != nil {
						return
					}
					owners <- [3]any{conn.RemoteAddr().String(), conn.LocalAddr().String(), conn.Thread()}
					go func() {
						defer conn.Close()
						io.Copy(conn, conn)
						conn.CloseWrite()
					}()
				}
			}()
			const conns = 12
			var wg sync.WaitGroup
			for i := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					echo(t, b, netip.MustParseAddrPort("10.0.2.15:7"), 60_000+i*1000, uint64(i))
				}()
			}
			wg.Wait()
			sa := a.Stats()
			if sa.Total.TCP.PassiveOpen != conns {
				t.Fatalf("%d connections accepted", sa.Total.TCP.PassiveOpen)
			}
			// With RSS no segment needs another thread; without it every
			// frame arrives on queue 0 and those of other owners hop.
			if c.rss && sa.Total.HopsIn != 0 {
				t.Errorf("%d cross-CPU hops with RSS steering", sa.Total.HopsIn)
			}
			if !c.rss && c.threads > 1 && sa.Total.HopsIn == 0 {
				t.Errorf("no cross-CPU hops counted without RSS on %d threads", c.threads)
			}
			for range conns {
				o := <-owners
				remote := netip.MustParseAddrPort(o[0].(string))
				local := netip.MustParseAddrPort(o[1].(string))
				owner := o[2].(int)
				tap.mu.Lock()
				qs := tap.queues[[2]netip.AddrPort{remote, local}]
				tap.mu.Unlock()
				if len(qs) == 0 {
					t.Fatalf("no segments seen for %v", remote)
				}
				for q := range qs {
					if c.rss && q != owner {
						t.Fatalf("connection %v owned by thread %d arrived on queue %d", remote, owner, q)
					}
					if !c.rss && q != 0 {
						t.Fatalf("queue %d without RSS", q)
					}
				}
			}
			ds := r.drv.Stats()
			used := 0
			for _, q := range ds.Queues {
				if len(q.Drops) != 0 && !(len(q.Drops) == 1 && q.Drops["tx_ring_full"] > 0) {
					t.Fatalf("queue %d drops %v", q.Queue, q.Drops)
				}
				if q.RxFrames > 0 {
					used++
				}
			}
			// 12 connections from sequential ephemeral ports all hashing
			// to one queue would be a ~1e-5 event: steering is not spreading.
			if c.rss && used < 2 {
				t.Fatalf("frames on %d queue(s) only: %+v", used, ds.Queues)
			}
		})
	}
}

func echo(t *testing.T, s *stack.Stack, dst netip.AddrPort, n int, seed uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := s.DialTCP(ctx, dst)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
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
