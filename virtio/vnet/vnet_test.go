package vnet_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"damselfly/net/link"
	"damselfly/net/stack"
	"damselfly/virtio"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

func TestNegotiationAndConfig(t *testing.T) {
	for _, pci := range []bool{false, true} {
		t.Run(fmt.Sprintf("pci=%v", pci), func(t *testing.T) {
			r := newRig(t, pci, vnetsim.Options{MTU: 1400}, vnet.Options{})
			d := r.drv
			if d.MAC() != simMAC {
				t.Fatalf("MAC %v", d.MAC())
			}
			if d.MTU() != 1400 {
				t.Fatalf("MTU %d, want the device's 1400", d.MTU())
			}
			want := uint64(virtio.FeatureVersion1 | virtio.FeatureEventIdx | virtio.FeatureIndirectDesc |
				vnet.FeatureMAC | vnet.FeatureStatus | vnet.FeatureMTU | vnet.FeatureMrgRxBuf |
				vnet.FeatureCsum | vnet.FeatureGuestCsum | vnet.FeatureHostTSO4 | vnet.FeatureGuestTSO4 |
				vnet.FeatureCtrlVQ)
			if d.Features() != want || r.sim.Negotiated() != want {
				t.Fatalf("features %#x (device %#x), want %#x", d.Features(), r.sim.Negotiated(), want)
			}
			if !d.LinkUp() || d.RSSKey() != nil || d.NumQueues() != 1 || d.HeaderLen() != vnet.HeaderLen {
				t.Fatalf("link %v key %v queues %d hdr %d", d.LinkUp(), d.RSSKey(), d.NumQueues(), d.HeaderLen())
			}
		})
	}
}

func TestFeatureDependencies(t *testing.T) {
	// Without mergeable buffers GUEST_TSO4 is not asked for; without the
	// control queue neither MQ nor RSS.
	r := newRig(t, false, vnetsim.Options{NoMrg: true, NoCtrl: true, Pairs: 4}, vnet.Options{Queues: 4})
	f := r.drv.Features()
	if f&vnet.FeatureGuestTSO4 != 0 || f&vnet.FeatureMrgRxBuf != 0 || f&(vnet.FeatureMQ|vnet.FeatureRSS|vnet.FeatureCtrlVQ) != 0 {
		t.Fatalf("features %#x", f)
	}
	if r.drv.NumQueues() != 1 {
		t.Fatalf("%d queues without MQ", r.drv.NumQueues())
	}
	// Disabled on request.
	r2 := newRig(t, false, vnetsim.Options{}, vnet.Options{Disable: vnet.FeatureCsum | vnet.FeatureGuestCsum})
	if f := r2.drv.Features(); f&(vnet.FeatureHostTSO4|vnet.FeatureGuestTSO4|vnet.FeatureCsum) != 0 {
		t.Fatalf("features %#x", f)
	}
}

func TestRxTx(t *testing.T) {
	type cfg struct {
		so vnetsim.Options
		vo vnet.Options
	}
	cases := map[string]cfg{
		"default":          {},
		"small-ring":       {vo: vnet.Options{QueueSize: 8}},
		"no-mrg":           {so: vnetsim.Options{NoMrg: true}},
		"no-event-idx":     {so: vnetsim.Options{NoEventIdx: true, NoIndirect: true}, vo: vnet.Options{QueueSize: 16}},
		"mrg-small-bufs":   {vo: vnet.Options{RxBufSize: 256, QueueSize: 64}},
		"hash-header":      {so: vnetsim.Options{Hash: true}},
		"hash-small-bufs":  {so: vnetsim.Options{Hash: true}, vo: vnet.Options{RxBufSize: 128, QueueSize: 32}},
		"budget-1":         {vo: vnet.Options{Budget: 1, QueueSize: 32}},
		"no-mrg-no-eventi": {so: vnetsim.Options{NoMrg: true, NoEventIdx: true}, vo: vnet.Options{QueueSize: 4}},
	}
	for name, c := range cases {
		for _, pci := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/pci=%v", name, pci), func(t *testing.T) {
				r := newRig(t, pci, c.so, c.vo)
				rng := rand.New(rand.NewPCG(1, 2))
				const n = 600
				frames := make([][]byte, n)
				for i := range frames {
					frames[i] = rawFrame(i, 60+rng.IntN(1514-60+1))
				}
				// Receive: in order, intact, ring wrapped many times.
				go func() {
					for _, f := range frames {
						r.sim.Receive(f)
					}
				}()
				for i := range frames {
					x := r.recv(t)
					if !bytes.Equal(x.f, frames[i]) {
						t.Fatalf("frame %d: got %d bytes, want %d", i, len(x.f), len(frames[i]))
					}
				}
				// Transmit.
				sendDone := make(chan struct{})
				go func() {
					defer close(sendDone)
					for _, f := range frames {
						send(t, r.drv, f)
					}
				}()
				for i := range frames {
					if f := r.sent(t); !bytes.Equal(f, frames[i]) {
						t.Fatalf("sent frame %d differs", i)
					}
				}
				// The device can take the last frame before Send has
				// counted it: read the counters once every Send returned.
				<-sendDone
				st := r.drv.Stats().Queues[0]
				delete(st.Drops, "tx_ring_full") // send retries those
				if st.RxFrames != n || st.TxFrames != n || len(st.Drops) != 0 || st.MaxPerPoll > uint64(max(c.vo.Budget, 64)) {
					t.Fatalf("stats %+v", st)
				}
				if st.Refills < n {
					t.Fatalf("refills %d < %d", st.Refills, n)
				}
				if c.vo.RxBufSize != 0 && st.RxMerged == 0 {
					t.Fatal("no frame spanned several buffers")
				}
			})
		}
	}
}

func TestTooLongTx(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{}, vnet.Options{})
	if err := r.drv.Send(make([]byte, 14+4+1500+1)); err == nil {
		t.Fatal("oversize frame accepted")
	}
	if r.drv.Stats().Queues[0].Drops["tx_too_long"] != 1 {
		t.Fatal("not counted")
	}
}

func TestMergeableAndGuestTSO(t *testing.T) {
	// Finishing the partial checksum in software (FinishRxCsum) and
	// handing it on as the device left it, marked validated (default).
	for _, finish := range []bool{true, false} {
		r := newRig(t, false, vnetsim.Options{}, vnet.Options{RxBufSize: 512, FinishRxCsum: finish})
		src := netip.MustParseAddrPort("10.0.0.2:40000")
		dst := netip.MustParseAddrPort("10.0.0.1:80")
		payload := make([]byte, 30000)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		big := tcpFrame(src, dst, payload)
		r.sim.Inject(big, vnetsim.RxOpts{Queue: -1, GSOSize: 1448, Partial: true})
		x := r.recv(t)
		if len(x.f) != len(big) || !bytes.Equal(x.f[54:], payload) {
			t.Fatalf("finish %v: coalesced frame of %d bytes, want %d", finish, len(x.f), len(big))
		}
		if !x.rss.ChecksumValid {
			t.Errorf("finish %v: frame not marked validated", finish)
		}
		st := r.drv.Stats().Queues[0]
		if finish {
			if err := tcpValid(x.f); err != nil {
				t.Fatalf("partial checksum not completed: %v", err)
			}
			if st.RxMerged != 1 || st.RxCsumFixed != 1 || st.RxCsumPartial != 0 {
				t.Fatalf("finish: stats %+v", st)
			}
			continue
		}
		if err := tcpValid(x.f); err == nil {
			t.Error("a partial checksum was completed without FinishRxCsum")
		}
		if st.RxMerged != 1 || st.RxCsumFixed != 0 || st.RxCsumPartial != 1 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestGuestTSORefusedWithoutFeature(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{}, vnet.Options{Disable: vnet.FeatureGuestTSO4})
	f := tcpFrame(netip.MustParseAddrPort("10.0.0.2:1"), netip.MustParseAddrPort("10.0.0.1:2"), make([]byte, 100))
	r.sim.Inject(f, vnetsim.RxOpts{Queue: 0, GSOSize: 50})
	r.sim.Inject(rawFrame(1, 100), vnetsim.RxOpts{Queue: 0})
	if x := r.recv(t); len(x.f) != 100 {
		t.Fatalf("got %d-byte frame", len(x.f))
	}
	if r.drv.Stats().Queues[0].Drops["rx_gso"] != 1 {
		t.Fatalf("stats %+v", r.drv.Stats().Queues[0])
	}
}

func TestChecksumOffload(t *testing.T) {
	r := newRig(t, true, vnetsim.Options{}, vnet.Options{FinishRxCsum: true})
	src := netip.MustParseAddrPort("10.0.0.1:80")
	dst := netip.MustParseAddrPort("10.0.0.2:5555")
	// Receive side: partial checksums completed (FinishRxCsum), DATA_VALID
	// counted, both marked validated.
	for i, o := range []vnetsim.RxOpts{{Queue: 0, Partial: true}, {Queue: 0, DataValid: true}} {
		f := tcpFrame(dst, src, bytes.Repeat([]byte{byte(i)}, 333))
		r.sim.Inject(f, o)
		x := r.recv(t)
		if err := tcpValid(x.f); err != nil || !bytes.Equal(x.f, f) || !x.rss.ChecksumValid {
			t.Fatalf("case %d: %v (marked valid: %v)", i, err, x.rss.ChecksumValid)
		}
	}
	st := r.drv.Stats().Queues[0]
	if st.RxCsumFixed != 1 || st.RxCsumValid != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Transmit side: the device computes the checksum we left partial.
	csum, tso := r.drv.Offloads()
	if !csum || !tso {
		t.Fatal("offloads not negotiated")
	}
	f := tcpFrame(src, dst, bytes.Repeat([]byte{9}, 1000))
	pseudoOnly(f)
	done := make(chan struct{})
	err := r.drv.Queue(0).SendSG([][]byte{f[:54], f[54:]}, vnet.Offload{Csum: true, CsumStart: 34, CsumOffset: 16}, func() { close(done) })
	if err != nil {
		t.Fatal(err)
	}
	out := r.sent(t)
	if err := tcpValid(out); err != nil {
		t.Fatalf("device checksum: %v", err)
	}
	<-done // the interrupt reclaims SG buffers even with no further sends
	// TSO: one 20000-byte segment cut into 1400-byte ones.
	payload := make([]byte, 20000)
	for i := range payload {
		payload[i] = byte(i)
	}
	big := tcpFrame(src, dst, payload)
	pseudoOnly(big)
	if err := r.drv.Queue(0).SendSG([][]byte{big}, vnet.Offload{Csum: true, CsumStart: 34, CsumOffset: 16, GSOSize: 1400, HdrLen: 54}, nil); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(payload) {
		s := r.sent(t)
		if err := tcpValid(s); err != nil || len(s) > 54+1400 {
			t.Fatalf("segment of %d bytes: %v", len(s), err)
		}
		got = append(got, s[54:]...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("TSO payload differs")
	}
	if r.drv.Stats().Queues[0].TxTSO != 1 {
		t.Fatal("TSO not counted")
	}
	// Out-of-range requests are refused before reaching the device.
	bad := []vnet.Offload{{Csum: true, CsumStart: 34, CsumOffset: 5000}, {GSOSize: 100, HdrLen: 54}, {Csum: true, CsumStart: 2}}
	for _, o := range bad {
		if err := r.drv.Queue(0).SendSG([][]byte{f}, o, nil); err == nil {
			t.Fatalf("offload %+v accepted", o)
		}
	}
}

// pseudoOnly leaves a TCP frame's checksum field holding the pseudo-header
// sum, as a stack asking for checksum offload does.
func pseudoOnly(f []byte) {
	ip := f[14:]
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	n := len(f) - 34
	s := pseudoSum(src, dst, n)
	f[50], f[51] = byte(s>>8), byte(s)
}

func TestNoCsumOffloadWithoutFeature(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{NoOffload: true}, vnet.Options{})
	f := tcpFrame(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), nil)
	if err := r.drv.Queue(0).SendSG([][]byte{f}, vnet.Offload{Csum: true, CsumStart: 34, CsumOffset: 16}, nil); err == nil {
		t.Fatal("checksum offload without VIRTIO_NET_F_CSUM accepted")
	}
}

func TestLinkStatus(t *testing.T) {
	for _, pci := range []bool{false, true} {
		t.Run(fmt.Sprintf("pci=%v", pci), func(t *testing.T) {
			ch := make(chan bool, 4)
			r := newRig(t, pci, vnetsim.Options{LinkDown: true}, vnet.Options{OnLink: func(up bool) { ch <- up }})
			if r.drv.LinkUp() {
				t.Fatal("link up at start")
			}
			r.sim.SetLink(true)
			if up := <-ch; !up || !r.drv.LinkUp() {
				t.Fatal("link up not reported")
			}
			r.sim.SetLink(false)
			if up := <-ch; up || r.drv.LinkUp() {
				t.Fatal("link down not reported")
			}
			if r.drv.Stats().ConfigChanges != 2 {
				t.Fatalf("config changes %d", r.drv.Stats().ConfigChanges)
			}
		})
	}
}

// The partition function of the stack, not a copy of it.
var partition stack.Partition = stack.Toeplitz{}

func TestMultiqueueRSS(t *testing.T) {
	type tc struct {
		pairs, queues int
		hash, rss     bool
		tableMax      uint16
	}
	for _, c := range []tc{
		{4, 4, true, true, 128}, {4, 3, true, true, 128}, {3, 3, false, true, 128},
		{8, 2, true, true, 256}, {2, 2, true, false, 128},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			r := newRig(t, c.pairs%2 == 0, vnetsim.Options{Pairs: c.pairs, RSS: c.rss, Hash: c.hash, RSSMaxTable: c.tableMax},
				vnet.Options{Queues: c.queues})
			d := r.drv
			if d.NumQueues() != c.queues || r.sim.Pairs() != c.queues {
				t.Fatalf("queues: driver %d device %d, want %d", d.NumQueues(), r.sim.Pairs(), c.queues)
			}
			table, key, types, steer, report := r.sim.RSS()
			if steer != c.rss || report != c.hash || d.Steering() != c.rss || d.HashReport() != c.hash {
				t.Fatalf("steer %v report %v", steer, report)
			}
			if c.rss {
				if len(table) != 128 || !bytes.Equal(key, stack.SymmetricKey) || types != vnet.HashTypeIPv4|vnet.HashTypeTCPv4 {
					t.Fatalf("table %d key %x types %#x", len(table), key, types)
				}
				for i, q := range table {
					if int(q) != i%c.queues {
						t.Fatalf("table[%d] = %d", i, q)
					}
				}
			}
			if (c.rss || c.hash) != (d.RSSKey() != nil) {
				t.Fatal("RSSKey presence wrong")
			}
			rng := rand.New(rand.NewPCG(7, uint64(c.queues)))
			const n = 2000
			local := netip.MustParseAddr("10.0.2.15")
			type flow struct{ src, dst netip.AddrPort }
			flows := make([]flow, n)
			for i := range flows {
				a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
				flows[i] = flow{netip.AddrPortFrom(a, uint16(1024+rng.IntN(60000))), netip.AddrPortFrom(local, uint16([]int{80, 7, 9, 443}[i%4]))}
			}
			go func() {
				for i, f := range flows {
					r.sim.Receive(tcpFrame(f.src, f.dst, []byte{byte(i), byte(i >> 8)}))
				}
			}()
			perQ := make([]int, c.queues)
			for range flows {
				x := r.recv(t)
				i := int(x.f[54]) | int(x.f[55])<<8
				f := flows[i]
				want := partition.Thread(f.src, f.dst, c.queues)
				if c.rss && x.q != want {
					t.Fatalf("flow %v→%v on queue %d, partition says %d", f.src, f.dst, x.q, want)
				}
				if !c.rss && x.q != 0 {
					t.Fatalf("queue %d without RSS", x.q)
				}
				if x.rss.Valid != c.hash {
					t.Fatalf("hash valid %v", x.rss.Valid)
				}
				if c.hash {
					if h := stack.RSSHash(stack.SymmetricKey, f.src, f.dst); x.rss.Hash != h {
						t.Fatalf("hash %#x, stack computes %#x", x.rss.Hash, h)
					}
					if stack.ThreadOfHash(x.rss.Hash, c.queues) != want {
						t.Fatal("stack would steer the reported hash elsewhere")
					}
				}
				perQ[x.q]++
			}
			if c.rss {
				for q, k := range perQ {
					if k < n/c.queues/2 {
						t.Fatalf("queue %d got %d of %d frames: %v", q, k, n, perQ)
					}
				}
			}
			// Transmit queue choice follows the same hash.
			for _, f := range flows[:50] {
				send(t, d, tcpFrame(f.dst, f.src, nil))
				r.sent(t)
			}
			_, tx, _ := r.sim.Counts()
			if c.queues > 1 {
				used := 0
				for _, k := range tx[:c.queues] {
					if k > 0 {
						used++
					}
				}
				if used < 2 {
					t.Fatalf("transmit used %d queues: %v", used, tx)
				}
			}
		})
	}
}

func TestRSSRefusedTableFallsBack(t *testing.T) {
	// A device whose table is shorter than 128 entries still gets RSS
	// with the largest power of two it allows.
	r := newRig(t, false, vnetsim.Options{Pairs: 2, RSS: true, RSSMaxTable: 100}, vnet.Options{Queues: 2})
	table, _, _, steer, _ := r.sim.RSS()
	if !steer || len(table) != 64 {
		t.Fatalf("steer %v table %d", steer, len(table))
	}
}

func TestQueueReceiverAndCopyBreak(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{Pairs: 2, RSS: true}, vnet.Options{Queues: 2, CopyBreak: 100})
	type got struct {
		q int
		f []byte
	}
	ch := make(chan got, 64)
	r.drv.SetQueueReceiver(func(q int, f []byte, _ link.RSS) { ch <- got{q, f} })
	local := netip.MustParseAddrPort("10.0.2.15:80")
	for i := range 40 {
		src := netip.AddrPortFrom(netip.MustParseAddr("10.0.2.2"), uint16(40000+i))
		f := tcpFrame(src, local, make([]byte, i*10)) // 54..444 bytes: both sides of the copy break
		r.sim.Receive(f)
		g := <-ch
		if want := partition.Thread(src, local, 2); g.q != want || !bytes.Equal(g.f, f) {
			t.Fatalf("flow %v: queue %d want %d", src, g.q, want)
		}
		if len(f) <= 100 && cap(g.f) != len(g.f) {
			t.Fatalf("%d-byte frame not copied out (cap %d)", len(f), cap(g.f))
		}
		if len(f) > 100 && cap(g.f) == len(g.f) {
			t.Fatalf("%d-byte frame copied", len(f))
		}
	}
}

func TestClose(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{}, vnet.Options{})
	r.sim.Inject(rawFrame(1, 100), vnetsim.RxOpts{Queue: 0})
	r.recv(t)
	if err := r.drv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.drv.Send(rawFrame(2, 100)); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	r.drv.Interrupt()
	if r.drv.Poll(0) {
		t.Fatal("poll after close")
	}
	if err := r.drv.Close(); err != nil {
		t.Fatal(err)
	}
	if r.sim.Status() != 0 {
		t.Fatalf("device status %#x after close, want reset", r.sim.Status())
	}
}

// SendOffloadDeferred adds frames without notifying the device until
// kickBatch of them wait or FlushTx rings; nothing is lost either way.
func TestDeferredKick(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{}, vnet.Options{})
	src := netip.MustParseAddrPort("10.0.0.1:80")
	dst := netip.MustParseAddrPort("10.0.0.2:5555")
	f := tcpFrame(src, dst, bytes.Repeat([]byte{5}, 500))
	pseudoOnly(f)
	o := link.TxOffload{Csum: true, CsumStart: 34, CsumOffset: 16}
	kicks := func() uint64 { return r.drv.Stats().Queues[0].TxKicks }
	k0 := kicks()
	for range 3 {
		if err := r.drv.SendOffloadDeferred(f, o); err != nil {
			t.Fatal(err)
		}
	}
	if k := kicks(); k != k0 {
		t.Fatalf("%d kicks for 3 deferred frames", k-k0)
	}
	r.drv.FlushTx()
	for i := range 3 {
		if out := r.sent(t); tcpValid(out) != nil {
			t.Fatalf("frame %d: %v", i, tcpValid(out))
		}
	}
	if k := kicks(); k != k0+1 {
		t.Fatalf("%d kicks after FlushTx, want 1", k-k0)
	}
	r.drv.FlushTx() // nothing waits: no kick
	// A long burst kicks by itself every 8 frames.
	for range 16 {
		if err := r.drv.SendOffloadDeferred(f, o); err != nil {
			t.Fatal(err)
		}
	}
	for range 16 {
		r.sent(t)
	}
	st := r.drv.Stats().Queues[0]
	if st.TxKicks != k0+3 || st.TxDeferred != 3+14 {
		t.Fatalf("kicks %d (want %d), deferred %d (want 17)", st.TxKicks-k0, 3, st.TxDeferred)
	}
}

// A large assembled frame handed back with RecycleRx is the buffer the
// next one is assembled into; its bytes are the new frame's.
func TestRecycleRx(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{}, vnet.Options{RxBufSize: 2048})
	src := netip.MustParseAddrPort("10.0.0.2:40000")
	dst := netip.MustParseAddrPort("10.0.0.1:80")
	var prev []byte
	for i := range 3 {
		payload := bytes.Repeat([]byte{byte(i + 1)}, 40000)
		big := tcpFrame(src, dst, payload)
		r.sim.Inject(big, vnetsim.RxOpts{Queue: -1, GSOSize: 1448, Partial: true})
		x := r.recv(t)
		if len(x.f) != len(big) || !bytes.Equal(x.f[54:], payload) {
			t.Fatalf("frame %d differs", i)
		}
		if prev != nil && &x.f[0] != &prev[0] {
			t.Errorf("frame %d not assembled into the recycled buffer", i)
		}
		r.drv.RecycleRx(x.f)
		prev = x.f
	}
	r.drv.RecycleRx(make([]byte, 100)) // not one of the pool's: ignored
	st := r.drv.FramePool()
	if st.Hits != 2 || st.Misses != 1 || st.Returned != 3 || st.Refused != 1 {
		t.Fatalf("pool %+v", st)
	}
}
