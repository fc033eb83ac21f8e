package arp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"damselfly/net/ether"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	macA = ether.MAC{0x52, 0x54, 0, 0, 0, 0xa}
	macB = ether.MAC{0x52, 0x54, 0, 0, 0, 0xb}
	ipA  = netip.MustParseAddr("10.0.0.1")
	ipB  = netip.MustParseAddr("10.0.0.2")
	t0   = time.Unix(1000, 0)
)

func TestFrameGopacket(t *testing.T) {
	b := Frame(OpRequest, macA, ipA, ether.MAC{}, ipB)
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok {
		t.Fatalf("no ARP layer: %v", p.ErrorLayer())
	}
	if a.Operation != layers.ARPRequest || !bytes.Equal(a.SourceHwAddress, net.HardwareAddr(macA[:])) ||
		!bytes.Equal(a.SourceProtAddress, ipA.AsSlice()) || !bytes.Equal(a.DstProtAddress, ipB.AsSlice()) {
		t.Fatalf("gopacket decoded %+v", a)
	}
	if e := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); !bytes.Equal(e.DstMAC, net.HardwareAddr(ether.Broadcast[:])) {
		t.Fatal("request not broadcast")
	}
	pk, err := Parse(b[ether.HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if pk.Op() != OpRequest || pk.SenderMAC() != macA || pk.SenderIP() != ipA || pk.TargetIP() != ipB {
		t.Fatal("round trip")
	}
}

func TestParseRejects(t *testing.T) {
	good := Frame(OpReply, macA, ipA, macB, ipB)[ether.HeaderLen:]
	cases := map[string]func([]byte){
		"short": nil,
		"htype": func(b []byte) { b[1] = 6 },
		"ptype": func(b []byte) { b[2] = 0x86 },
		"hlen":  func(b []byte) { b[4] = 8 },
		"plen":  func(b []byte) { b[5] = 16 },
	}
	for name, mut := range cases {
		b := append([]byte(nil), good...)
		if mut == nil {
			b = b[:20]
		} else {
			mut(b)
		}
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// pair wires two caches together through a frame log.
type host struct {
	c         *Cache
	sent      [][]byte
	delivered [][]byte
	unreach   int
}

func newHost(mac ether.MAC, ip netip.Addr) *host {
	h := &host{}
	h.c = NewCache(mac, ip, func(f []byte) { h.sent = append(h.sent, f) },
		func(dst ether.MAC, p []byte) { h.delivered = append(h.delivered, p) })
	h.c.Unreachable = func([]byte) { h.unreach++ }
	return h
}

func TestResolveQueueAndReply(t *testing.T) {
	a, b := newHost(macA, ipA), newHost(macB, ipB)
	if a.c.Resolve(ipB, []byte("p1"), t0) || a.c.Resolve(ipB, []byte("p2"), t0) {
		t.Fatal("resolved without ARP")
	}
	if len(a.sent) != 1 {
		t.Fatalf("%d requests sent, want 1 (second packet must queue)", len(a.sent))
	}
	// B answers the request and learns A.
	b.c.Input(a.sent[0][ether.HeaderLen:], t0)
	if len(b.sent) != 1 {
		t.Fatal("no reply")
	}
	if _, ok := b.c.Lookup(ipA, t0); !ok {
		t.Fatal("B did not learn A from a request for it")
	}
	a.c.Input(b.sent[0][ether.HeaderLen:], t0)
	if len(a.delivered) != 2 || string(a.delivered[0]) != "p1" || string(a.delivered[1]) != "p2" {
		t.Fatalf("queued packets not flushed in order: %q", a.delivered)
	}
	if !a.c.Resolve(ipB, []byte("p3"), t0.Add(time.Second)) {
		t.Fatal("cached entry not used")
	}
	// Expiry.
	a.c.Advance(t0.Add(DefaultTTL))
	if _, ok := a.c.Lookup(ipB, t0.Add(DefaultTTL)); ok {
		t.Fatal("entry did not expire")
	}
}

func TestRetryThenGiveUp(t *testing.T) {
	a := newHost(macA, ipA)
	a.c.Resolve(ipB, []byte("x"), t0)
	now := t0
	for i := 0; i < 10; i++ {
		d, ok := a.c.NextDeadline()
		if !ok {
			break
		}
		now = d
		a.c.Advance(now)
	}
	if len(a.sent) != DefaultRetries {
		t.Fatalf("%d requests, want %d", len(a.sent), DefaultRetries)
	}
	if a.c.Len() != 0 || a.unreach != 1 || a.c.Stats.Timeouts != 1 {
		t.Fatalf("len %d unreach %d timeouts %d", a.c.Len(), a.unreach, a.c.Stats.Timeouts)
	}
}

func TestQueueLimit(t *testing.T) {
	a := newHost(macA, ipA)
	for i := 0; i < DefaultMaxQueued+5; i++ {
		a.c.Resolve(ipB, []byte{byte(i)}, t0)
	}
	if a.c.Stats.QueueDrops != 5 {
		t.Fatalf("drops %d", a.c.Stats.QueueDrops)
	}
	a.c.Input(Frame(OpReply, macB, ipB, macA, ipA)[ether.HeaderLen:], t0)
	if len(a.delivered) != DefaultMaxQueued || a.delivered[0][0] != 5 {
		t.Fatalf("delivered %d first %d", len(a.delivered), a.delivered[0][0])
	}
}

func TestGratuitousUpdates(t *testing.T) {
	a, b := newHost(macA, ipA), newHost(macB, ipB)
	b.c.Input(Frame(OpRequest, macA, ipA, ether.MAC{}, ipB)[ether.HeaderLen:], t0)
	newMAC := ether.MAC{2, 2, 2, 2, 2, 2}
	a.c.MAC = newMAC
	a.c.Announce()
	b.c.Input(a.sent[0][ether.HeaderLen:], t0)
	if m, _ := b.c.Lookup(ipA, t0); m != newMAC {
		t.Fatalf("gratuitous ARP did not update: %v", m)
	}
	if len(b.sent) != 1 {
		t.Fatal("answered a gratuitous ARP")
	}
	// A stranger's gratuitous ARP must not create an entry.
	b.c.Input(Gratuitous(ether.MAC{9}, netip.MustParseAddr("10.0.0.9"))[ether.HeaderLen:], t0)
	if b.c.Len() != 1 {
		t.Fatal("unsolicited entry created")
	}
}

func TestEviction(t *testing.T) {
	a := newHost(macA, ipA)
	a.c.MaxEntries = 4
	for i := 0; i < 10; i++ {
		ip := netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})
		a.c.Input(Frame(OpRequest, ether.MAC{byte(i)}, ip, ether.MAC{}, ipA)[ether.HeaderLen:], t0.Add(time.Duration(i)))
	}
	if a.c.Len() != 4 || a.c.Stats.Evictions != 6 {
		t.Fatalf("len %d evictions %d", a.c.Len(), a.c.Stats.Evictions)
	}
}

func FuzzInput(f *testing.F) {
	f.Add(Frame(OpRequest, macA, ipA, ether.MAC{}, ipB)[ether.HeaderLen:])
	f.Add(Frame(OpReply, macA, ipA, macB, ipB)[ether.HeaderLen:])
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h := newHost(macB, ipB)
		h.c.Input(b, t0)
		if p, err := Parse(b); err == nil {
			_ = p.TargetMAC()
		}
	})
}
