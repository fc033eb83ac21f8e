package dhcp

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
	mac    = ether.MAC{0x52, 0x54, 0, 1, 2, 3}
	server = netip.MustParseAddr("10.0.0.1")
	offerd = netip.MustParseAddr("10.0.0.50")
	dns1   = netip.MustParseAddr("10.0.0.53")
	t0     = time.Unix(10000, 0)
)

type sent struct {
	dst netip.Addr
	m   *Message
}

type rig struct {
	c      *Client
	out    []sent
	leases []Lease
	expire int
}

func newRig(t *testing.T) *rig {
	r := &rig{}
	r.c = &Client{
		MAC:  mac,
		Rand: func() uint32 { return 0xfeedbeef },
		Send: func(dst netip.Addr, b []byte) {
			m, err := Parse(b)
			if err != nil {
				t.Fatalf("client sent undecodable message: %v", err)
			}
			r.out = append(r.out, sent{dst, m})
		},
		OnLease:  func(l Lease) { r.leases = append(r.leases, l) },
		OnExpire: func() { r.expire++ },
	}
	return r
}

func (r *rig) last() sent { return r.out[len(r.out)-1] }

func reply(req *Message, typ uint8) []byte {
	m := &Message{
		Op: opReply, XID: req.XID, CHAddr: req.CHAddr, Type: typ, YIAddr: offerd,
		Mask: netip.PrefixFrom(offerd, 24), Routers: []netip.Addr{server}, DNS: []netip.Addr{dns1},
		ServerID: server, Lease: time.Hour, T1: 30 * time.Minute, T2: 52 * time.Minute,
	}
	return m.Encode()
}

func TestGopacketDecodesOurs(t *testing.T) {
	r := newRig(t)
	r.c.Start(t0)
	b := r.last().m.Encode()
	var d layers.DHCPv4
	if err := d.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if d.Operation != layers.DHCPOpRequest || d.Xid != 0xfeedbeef || !bytes.Equal(d.ClientHWAddr, net.HardwareAddr(mac[:])) {
		t.Fatalf("%+v", d)
	}
	found := false
	for _, o := range d.Options {
		if o.Type == layers.DHCPOptMessageType && o.Data[0] == byte(layers.DHCPMsgTypeDiscover) {
			found = true
		}
	}
	if !found {
		t.Fatal("no DISCOVER message type option")
	}
	// And a server reply built by us decodes with its options.
	if err := d.DecodeFromBytes(reply(r.last().m, Offer), gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	for _, o := range d.Options {
		if o.Type == layers.DHCPOptSubnetMask && !bytes.Equal(o.Data, []byte{255, 255, 255, 0}) {
			t.Fatalf("mask %v", o.Data)
		}
	}
}

func TestGopacketBuiltMessage(t *testing.T) {
	// A message from gopacket's encoder (an independent server) parses.
	d := &layers.DHCPv4{
		Operation: layers.DHCPOpReply, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6,
		Xid: 7, YourClientIP: net.IP{10, 0, 0, 9}, ClientHWAddr: net.HardwareAddr(mac[:]),
		Options: layers.DHCPOptions{
			layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeAck)}),
			layers.NewDHCPOption(layers.DHCPOptSubnetMask, []byte{255, 255, 0, 0}),
			layers.NewDHCPOption(layers.DHCPOptDNS, []byte{8, 8, 8, 8, 1, 1, 1, 1}),
			layers.NewDHCPOption(layers.DHCPOptLeaseTime, []byte{0, 0, 0x0e, 0x10}),
		},
	}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatal(err)
	}
	m, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != Ack || m.Mask.Bits() != 16 || len(m.DNS) != 2 || m.Lease != time.Hour || m.YIAddr != netip.MustParseAddr("10.0.0.9") {
		t.Fatalf("%+v", m)
	}
}

func TestAcquireRenewRebindExpire(t *testing.T) {
	r := newRig(t)
	r.c.Start(t0)
	if r.c.State() != Selecting || r.last().m.Type != Discover || r.last().dst != broadcast {
		t.Fatal("no DISCOVER")
	}
	// Retransmission with backoff.
	d, _ := r.c.NextDeadline()
	r.c.Advance(d)
	if len(r.out) != 2 || r.last().m.Type != Discover {
		t.Fatal("DISCOVER not retransmitted")
	}
	if d2, _ := r.c.NextDeadline(); d2.Sub(d) != 2*initialBackoff {
		t.Fatalf("backoff %v", d2.Sub(d))
	}
	// A reply with the wrong xid is ignored.
	bad := reply(r.last().m, Offer)
	bad[4] ^= 1
	r.c.Input(bad, d)
	if r.c.State() != Selecting {
		t.Fatal("accepted wrong xid")
	}
	r.c.Input(reply(r.last().m, Offer), d)
	req := r.last().m
	if r.c.State() != Requesting || req.Type != Request || req.ServerID != server || req.ReqIP != offerd {
		t.Fatalf("state %v request %+v", r.c.State(), req)
	}
	now := d.Add(time.Second)
	r.c.Input(reply(req, Ack), now)
	if r.c.State() != Bound || len(r.leases) != 1 {
		t.Fatal("not bound")
	}
	l := r.leases[0]
	if l.Addr != netip.MustParsePrefix("10.0.0.50/24") || l.Routers[0] != server || l.DNS[0] != dns1 || l.Duration != time.Hour {
		t.Fatalf("lease %+v", l)
	}
	// T1: unicast renewal with ciaddr.
	d, _ = r.c.NextDeadline()
	if d.Sub(now) != 30*time.Minute {
		t.Fatalf("T1 at %v", d.Sub(now))
	}
	r.c.Advance(d)
	ren := r.last()
	if r.c.State() != Renewing || ren.dst != server || ren.m.CIAddr != offerd || ren.m.ServerID.IsValid() {
		t.Fatalf("renew %v %+v", r.c.State(), ren)
	}
	// No answer: keep renewing until T2, then broadcast rebinding.
	for r.c.State() == Renewing {
		d, _ = r.c.NextDeadline()
		r.c.Advance(d)
	}
	if r.c.State() != Rebinding || r.last().dst != broadcast || d.Sub(now) != 52*time.Minute {
		t.Fatalf("state %v at %v", r.c.State(), d.Sub(now))
	}
	// Still nothing: the lease expires and the client starts over.
	for r.c.State() == Rebinding {
		d, _ = r.c.NextDeadline()
		r.c.Advance(d)
	}
	if r.expire != 1 || r.c.State() != Selecting || d.Sub(now) != time.Hour {
		t.Fatalf("expire %d state %v at %v", r.expire, r.c.State(), d.Sub(now))
	}
}

func TestRenewAckAndNak(t *testing.T) {
	r := newRig(t)
	r.c.Start(t0)
	r.c.Input(reply(r.last().m, Offer), t0)
	r.c.Input(reply(r.last().m, Ack), t0)
	d, _ := r.c.NextDeadline()
	r.c.Advance(d)
	r.c.Input(reply(r.last().m, Ack), d)
	if r.c.State() != Bound || len(r.leases) != 2 || !r.c.Lease().Acquired.Equal(d) {
		t.Fatal("renewal ACK not applied")
	}
	d, _ = r.c.NextDeadline()
	r.c.Advance(d)
	r.c.Input(reply(r.last().m, Nak), d)
	if r.c.State() != Selecting || r.expire != 1 {
		t.Fatal("NAK did not restart")
	}
}

func TestParseErrors(t *testing.T) {
	good := reply(&Message{XID: 1, CHAddr: mac}, Ack)
	if _, err := Parse(good[:100]); err == nil {
		t.Fatal("short accepted")
	}
	b := append([]byte(nil), good...)
	b[236] = 0
	if _, err := Parse(b); err == nil {
		t.Fatal("bad cookie accepted")
	}
	b = append([]byte(nil), good[:minLen]...)
	b = append(b, OptDNS, 200, 1, 2)
	if _, err := Parse(b); err == nil {
		t.Fatal("truncated option accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(reply(&Message{XID: 1, CHAddr: mac}, Offer))
	f.Add((&Message{Op: opRequest, Type: Discover}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if _, err := Parse(m.Encode()); err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
	})
}
