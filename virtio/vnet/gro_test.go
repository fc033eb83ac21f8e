package vnet_test

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"damselfly/internal/echotest"
	"damselfly/net/checksum"
	"damselfly/net/ether"
	"damselfly/net/link"
	"damselfly/net/stack"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// groWire is the peer's link: it coalesces consecutive in-order TCP data
// segments of one flow into one large frame, as a host's GRO does before
// handing packets to a tap with virtio-net headers, and delivers it with
// GSO_TCPV4 and a partial checksum. A held segment is flushed by the next
// frame that does not extend it or by a ticker (the peer may be waiting
// for an ACK of it).
type groWire struct {
	*vnetsim.Wire
	sim    *vnetsim.Net
	mu     sync.Mutex
	held   []byte
	mss    uint16
	merged int
}

func (g *groWire) Send(f []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		if m, ok := extend(g.held, f); ok {
			g.held = m
			g.merged++
			return nil
		}
		g.flushLocked()
	}
	if plen := tcpPayloadLen(f); plen > 0 {
		g.held = append([]byte(nil), f...)
		g.mss = uint16(plen)
		return nil
	}
	g.sim.Receive(f)
	return nil
}

func (g *groWire) flush() {
	g.mu.Lock()
	g.flushLocked()
	g.mu.Unlock()
}

func (g *groWire) flushLocked() {
	if g.held == nil {
		return
	}
	o := vnetsim.RxOpts{Queue: -1}
	if tcpPayloadLen(g.held) > int(g.mss) {
		o.GSOSize, o.Partial = g.mss, true
	}
	g.sim.Inject(g.held, o)
	g.held = nil
}

// tcpPayloadLen is the TCP payload length of a plain (no IP options)
// IPv4/TCP frame with only ACK/PSH set, or 0.
func tcpPayloadLen(f []byte) int {
	if len(f) < 54 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14] != 0x45 || f[23] != 6 {
		return 0
	}
	if f[47]&^0x18 != 0 { // anything but ACK and PSH
		return 0
	}
	thl := int(f[46]>>4) * 4
	return int(binary.BigEndian.Uint16(f[16:])) - 20 - thl
}

// extend appends b's payload to a if b continues a's flow in sequence
// with the same headers otherwise.
func extend(a, b []byte) ([]byte, bool) {
	pa, pb := tcpPayloadLen(a), tcpPayloadLen(b)
	if pa == 0 || pb == 0 || a[46] != b[46] {
		return nil, false
	}
	thl := int(a[46]>>4) * 4
	hl := 34 + thl
	// Same addresses and ports, same ack and window; b's seq follows a.
	if string(a[26:38]) != string(b[26:38]) || string(a[42:46]) != string(b[42:46]) || string(a[48:50]) != string(b[48:50]) {
		return nil, false
	}
	if binary.BigEndian.Uint32(b[38:]) != binary.BigEndian.Uint32(a[38:])+uint32(pa) || hl+pa+pb-14 > 65535 {
		return nil, false
	}
	m := append(a[:hl+pa:hl+pa], b[hl:hl+pb]...)
	binary.BigEndian.PutUint16(m[16:], uint16(len(m)-14))
	m[24], m[25] = 0, 0
	binary.BigEndian.PutUint16(m[24:], checksum.Checksum(m[14:34]))
	m[47] |= b[47] & 0x08 // PSH of the last
	return m, true
}

// The stack on the driver receives coalesced TCP frames (GUEST_TSO4,
// partial checksums completed by the driver) and the data arrives intact.
func TestStackReceivesCoalescedSegments(t *testing.T) {
	r := newRig(t, false, vnetsim.Options{Pairs: 2, RSS: true, Hash: true}, vnet.Options{Queues: 2})
	for i := range r.drv.NumQueues() {
		r.drv.Queue(i).Close() // frames to the device's receiver: the stack
	}
	a, err := stack.New(stack.Config{Link: r.drv, Addr: netip.MustParsePrefix("10.0.2.15/24"), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	g := &groWire{Wire: r.sim.Wire(ether.MAC{2, 0, 0, 0, 0, 2}, 1500), sim: r.sim}
	var peer link.Endpoint = g
	b, err := stack.New(stack.Config{Link: peer, Addr: netip.MustParsePrefix("10.0.2.2/24"), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				g.flush()
			}
		}
	}()
	l, err := a.ListenTCP(netip.MustParseAddrPort("0.0.0.0:7"), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echotest.ServeReads(l, 64<<10)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echo(t, b, netip.MustParseAddrPort("10.0.2.15:7"), 300_000, uint64(50+i))
		}()
	}
	wg.Wait()
	var gso, fixed uint64
	for _, q := range r.drv.Stats().Queues {
		gso += q.RxGSO
		fixed += q.RxCsumPartial
	}
	g.mu.Lock()
	merged := g.merged
	g.mu.Unlock()
	t.Logf("segments merged %d, coalesced frames received %d, partial checksums handed on %d", merged, gso, fixed)
	if gso == 0 || fixed < gso {
		t.Fatalf("no coalesced frame reached the stack (merged %d, gso %d, fixed %d)", merged, gso, fixed)
	}
	// TCP consumed the coalesced frames: the stack handed them back and
	// later ones were assembled into them.
	if rec, fp := a.Stats().Total.RxRecycled, r.drv.FramePool(); rec == 0 || fp.Hits == 0 {
		t.Fatalf("frames recycled by the stack %d, pool %+v", rec, fp)
	}
}
