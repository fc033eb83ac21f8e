package dns

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	t0  = time.Unix(20000, 0)
	ns1 = netip.MustParseAddr("10.0.0.53")
	ns2 = netip.MustParseAddr("10.0.0.54")
)

func response(q *Message, rcode uint16, answers ...Record) []byte {
	m := &Message{ID: q.ID, Flags: flagQR | flagRD | 0x80 | rcode, Questions: q.Questions, Answers: answers}
	b, err := m.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func TestQueryGopacket(t *testing.T) {
	b, err := Query(0xabcd, "www.Example.org.")
	if err != nil {
		t.Fatal(err)
	}
	var d layers.DNS
	if err := d.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if d.ID != 0xabcd || !d.RD || d.QR || len(d.Questions) != 1 || string(d.Questions[0].Name) != "www.Example.org" ||
		d.Questions[0].Type != layers.DNSTypeA || d.Questions[0].Class != layers.DNSClassIN {
		t.Fatalf("%+v", d)
	}
	if _, err := Query(1, "a..b"); err == nil {
		t.Fatal("empty label accepted")
	}
}

func TestCompressedResponseGopacket(t *testing.T) {
	q, _ := Parse(mustQuery(7, "www.example.org"))
	b := response(q, 0,
		Record{Name: "www.example.org", Type: TypeCNAME, Class: ClassIN, TTL: 300 * time.Second, Target: "web.example.org"},
		Record{Name: "web.example.org", Type: TypeA, Class: ClassIN, TTL: 60 * time.Second, Data: []byte{192, 0, 2, 1}},
		Record{Name: "web.example.org", Type: TypeA, Class: ClassIN, TTL: 60 * time.Second, Data: []byte{192, 0, 2, 2}},
	)
	// Compression must have happened: the names repeat 4 times.
	if len(b) > 100 {
		t.Fatalf("response %d bytes: not compressed", len(b))
	}
	var d layers.DNS
	if err := d.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if len(d.Answers) != 3 || string(d.Answers[0].CNAME) != "web.example.org" || string(d.Answers[2].Name) != "web.example.org" ||
		!d.Answers[2].IP.Equal(net.IP{192, 0, 2, 2}) {
		t.Fatalf("%+v", d.Answers)
	}
	m, err := Parse(b)
	if err != nil || len(m.Answers) != 3 || m.Answers[0].Target != "web.example.org" || m.Answers[1].Name != "web.example.org" {
		t.Fatalf("%v %+v", err, m)
	}
}

func mustQuery(id uint16, name string) []byte {
	b, err := Query(id, name)
	if err != nil {
		panic(err)
	}
	return b
}

func TestPointerAttacks(t *testing.T) {
	hdr := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}
	cases := map[string][]byte{
		"self loop":    append(append([]byte(nil), hdr...), 0xc0, 12, 0, 1, 0, 1),
		"forward":      append(append([]byte(nil), hdr...), 0xc0, 40, 0, 1, 0, 1),
		"truncated":    append(append([]byte(nil), hdr...), 5, 'a', 'b'),
		"extended":     append(append([]byte(nil), hdr...), 0x40, 0, 1, 0, 1),
		"half pointer": append(append([]byte(nil), hdr...), 0xc0),
	}
	for name, b := range cases {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type rig struct {
	r       *Resolver
	queries []struct {
		server netip.Addr
		m      *Message
	}
	results []Result
	seed    uint32
}

func newRig(t *testing.T) *rig {
	g := &rig{}
	g.r = &Resolver{
		Servers: []netip.Addr{ns1, ns2},
		Rand:    func() uint32 { g.seed += 7919; return g.seed },
		Send: func(s netip.Addr, b []byte) {
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			g.queries = append(g.queries, struct {
				server netip.Addr
				m      *Message
			}{s, m})
		},
	}
	return g
}

func (g *rig) lookup(name string, now time.Time) {
	g.r.Lookup(name, now, func(r Result) { g.results = append(g.results, r) })
}

func TestResolverAnswerAndCache(t *testing.T) {
	g := newRig(t)
	g.lookup("host.lan", t0)
	g.lookup("HOST.lan", t0) // joins the pending query
	if len(g.queries) != 1 {
		t.Fatalf("%d queries", len(g.queries))
	}
	q := g.queries[0].m
	// A response with the wrong question is ignored.
	spoof := &Message{ID: q.ID, Questions: []Question{{"evil.lan", TypeA, ClassIN}}}
	g.r.Input(response(spoof, 0, Record{Name: "evil.lan", Type: TypeA, Class: ClassIN, Data: []byte{6, 6, 6, 6}}), t0)
	if len(g.results) != 0 {
		t.Fatal("spoofed answer accepted")
	}
	g.r.Input(response(q, 0, Record{Name: "host.lan", Type: TypeA, Class: ClassIN, TTL: 10 * time.Second, Data: []byte{10, 0, 0, 7}}), t0)
	if len(g.results) != 2 || g.results[0].Err != nil || g.results[1].Addrs[0] != netip.MustParseAddr("10.0.0.7") {
		t.Fatalf("%+v", g.results)
	}
	g.lookup("host.lan", t0.Add(9*time.Second))
	if len(g.queries) != 1 || len(g.results) != 3 {
		t.Fatal("cache not used")
	}
	g.lookup("host.lan", t0.Add(10*time.Second))
	if len(g.queries) != 2 {
		t.Fatal("cache entry outlived its TTL")
	}
	g.lookup("192.0.2.9", t0)
	if g.results[len(g.results)-1].Addrs[0] != netip.MustParseAddr("192.0.2.9") {
		t.Fatal("literal address")
	}
}

func TestResolverRetryAndErrors(t *testing.T) {
	g := newRig(t)
	g.lookup("slow.lan", t0)
	now := t0
	for len(g.results) == 0 {
		d, ok := g.r.NextDeadline()
		if !ok {
			t.Fatal("no deadline")
		}
		now = d
		g.r.Advance(now)
	}
	if len(g.queries) != DefaultTries || g.queries[1].server != ns2 || !errors.Is(g.results[0].Err, ErrTimeout) {
		t.Fatalf("%d queries, %v", len(g.queries), g.results[0].Err)
	}
	g.lookup("missing.lan", now)
	q := g.queries[len(g.queries)-1].m
	g.r.Input(response(q, 3), now)
	if !errors.Is(g.results[1].Err, ErrNotFound) {
		t.Fatal(g.results[1].Err)
	}
	// The retried query's old ID must no longer be accepted.
	g.lookup("x.lan", now)
	old := g.queries[len(g.queries)-1].m
	d, _ := g.r.NextDeadline()
	g.r.Advance(d)
	g.r.Input(response(old, 0, Record{Name: "x.lan", Type: TypeA, Class: ClassIN, Data: []byte{1, 2, 3, 4}}), d)
	if len(g.results) != 2 {
		t.Fatal("answer to a superseded query ID accepted")
	}
}

func FuzzParse(f *testing.F) {
	q, _ := Parse(mustQuery(1, "a.example.com"))
	f.Add(mustQuery(1, "a.example.com"))
	f.Add(response(q, 0, Record{Name: "a.example.com", Type: TypeCNAME, Class: ClassIN, Target: "b.example.com"},
		Record{Name: "b.example.com", Type: TypeA, Class: ClassIN, Data: []byte{1, 2, 3, 4}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		for _, a := range m.Answers {
			_, _ = a.A()
		}
		g := &Resolver{Servers: []netip.Addr{ns1}, Rand: func() uint32 { return uint32(m.ID) }, Send: func(netip.Addr, []byte) {}}
		if len(m.Questions) == 1 {
			g.Lookup(m.Questions[0].Name, t0, func(Result) {})
			g.Input(b, t0)
		}
	})
}
