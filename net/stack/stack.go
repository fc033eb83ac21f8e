package stack

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"damselfly/net/arp"
	"damselfly/net/ether"
	"damselfly/net/icmp"
	"damselfly/net/ipv4"
	"damselfly/net/link"
	"damselfly/net/tcp"
	"damselfly/sched"
)

// Config describes a stack on one interface.
type Config struct {
	Link    link.Endpoint
	Addr    netip.Prefix // our address and the on-link subnet
	Gateway netip.Addr   // default router; unset: on-link only
	// Threads is the number of protocol threads (CPUs); any N >= 1.
	Threads int
	// Partition assigns connections to threads; default Toeplitz when
	// the link computes RSS hashes, Ports otherwise (issue 7).
	Partition Partition
	// Now is the clock (default time.Now). Loops is the LWKT system the
	// protocol threads run on (SchedLoops(sys)); unset, the stack runs a
	// system of its own with one CPU per thread up to the host's CPUs.
	Now   func() time.Time
	Loops LoopFactory
	// ISNSecret keys ISNs and SYN cookies; default random.
	ISNSecret [16]byte
	// TCP adjusts each thread's tcp.Config (buffer sizes, congestion
	// control) before its tcp.Stack is made.
	TCP func(*tcp.Config)
	// UDPQueue bounds datagrams queued per UDP socket (default 256).
	UDPQueue int
	// DNS servers for LookupHost and Dial by name.
	DNS []netip.Addr
	// DHCP acquires Addr, Gateway and DNS with a DHCPv4 client on
	// thread 0 instead of taking them from the Config.
	DHCP bool
}

// Stack is a TCP/IP stack on one interface with N protocol threads.
type Stack struct {
	cfg  Config
	link link.Endpoint
	mac  ether.MAC
	// ifc is the interface configuration: fixed from Config, or set
	// by the DHCP client when a lease is bound. Threads and callers load
	// it; only New and the DHCP client (on thread 0) store it.
	ifc     atomic.Pointer[iface]
	ready   chan struct{} // closed once an address is configured
	down    chan struct{} // closed by Close: wakes every blocked socket call
	mtu     int
	part    Partition
	threads []*proto
	// sys runs the protocol threads; ownSys when New made it (Close
	// stops it). sink is the reply port of sends nobody waits for.
	sys    *sched.System
	ownSys bool
	sink   *sched.Port

	// ports is the ephemeral-port and UDP-binding state shared by all
	// threads and by callers; it is the only lock on the data path, and
	// only connection setup and UDP demultiplexing take it.
	portsMu  sync.Mutex
	tcpPorts map[uint16]int // listening port -> listeners
	udpSocks map[uint16]udpReceiver
	nextEph  uint16

	resolver *resolverGlue

	rr     atomic.Uint32 // round-robin thread choice for callers without a CPU
	closed atomic.Bool
}

// Ephemeral port range (RFC 6335 §6 suggests 49152-65535; Linux uses
// 32768-60999). A wide range matters here because a connect searches it
// for a port that lands on the calling thread.
const (
	ephemeralLow  = 32768
	ephemeralHigh = 60999
)

// ErrClosed is returned by operations on a closed stack or socket.
var ErrClosed = errors.New("stack: closed")

// New builds a stack and starts its threads.
func New(cfg Config) (*Stack, error) {
	if cfg.Link == nil {
		return nil, errors.New("stack: need a link")
	}
	if !cfg.DHCP && (!cfg.Addr.IsValid() || !cfg.Addr.Addr().Is4()) {
		return nil, fmt.Errorf("stack: need an IPv4 address/prefix or DHCP (got %v)", cfg.Addr)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UDPQueue <= 0 {
		cfg.UDPQueue = 256
	}
	if cfg.Partition == nil {
		cfg.Partition = Ports{}
		if k, ok := cfg.Link.(link.RSSKeyed); ok && k.RSSKey() != nil {
			cfg.Partition = Toeplitz{}
		}
	}
	if cfg.ISNSecret == ([16]byte{}) {
		rand.Read(cfg.ISNSecret[:])
	}
	s := &Stack{
		cfg: cfg, link: cfg.Link, mac: cfg.Link.MAC(), ready: make(chan struct{}), down: make(chan struct{}),
		mtu: cfg.Link.MTU(), part: cfg.Partition,
		tcpPorts: map[uint16]int{}, udpSocks: map[uint16]udpReceiver{},
	}
	if cfg.DHCP {
		s.ifc.Store(&iface{addr: netip.IPv4Unspecified()})
	} else {
		s.ifc.Store(newIface(cfg.Addr, cfg.Gateway, cfg.DNS))
		close(s.ready)
	}
	var seed [4]byte
	rand.Read(seed[:])
	s.nextEph = ephemeralLow + (uint16(seed[0])<<8|uint16(seed[1]))%(ephemeralHigh-ephemeralLow)
	for i := range cfg.Threads {
		s.threads = append(s.threads, newProto(s, i))
	}
	s.sys = cfg.Loops.sys
	if s.sys == nil {
		s.sys, s.ownSys = hostSystem(cfg.Threads), true
	}
	s.sink = sched.NewReplyPort("stack-sink", func(*sched.CPU, *sched.Port, sched.Message) {})
	for _, p := range s.threads {
		p.loop.start(SchedLoops(s.sys), p.id, p.poll, cfg.Now, p.serveMsg)
	}
	if err := s.startResolver(); err != nil {
		return nil, err
	}
	if mq, ok := s.link.(link.Multiqueue); ok {
		mq.SetQueueReceiver(s.receiveQueue)
	} else {
		s.link.SetReceiver(s.receive)
	}
	if cfg.DHCP {
		s.startDHCP()
	}
	return s, nil
}

// iface is an immutable snapshot of the interface's IPv4 configuration.
type iface struct {
	addr    netip.Addr   // unspecified until DHCP binds
	subnet  netip.Prefix // masked
	bcast   netip.Addr   // directed broadcast of the subnet
	gateway netip.Addr
	dns     []netip.Addr
}

func newIface(p netip.Prefix, gw netip.Addr, dns []netip.Addr) *iface {
	return &iface{addr: p.Addr(), subnet: p.Masked(), bcast: directedBroadcast(p.Masked()), gateway: gw, dns: dns}
}

func (s *Stack) iface() *iface { return s.ifc.Load() }

func directedBroadcast(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	bits := p.Bits()
	for i := range 4 {
		for b := range 8 {
			if i*8+b >= bits {
				a[i] |= 0x80 >> b
			}
		}
	}
	return netip.AddrFrom4(a)
}

// Addr returns the stack's IPv4 address.
func (s *Stack) Addr() netip.Addr { return s.iface().addr }

// Ready is closed once the interface has an address: at once for a
// static address, when the first DHCP lease is bound otherwise.
func (s *Stack) Ready() <-chan struct{} { return s.ready }

// Threads returns the number of protocol threads.
func (s *Stack) Threads() int { return len(s.threads) }

// Partition returns the partition function in use.
func (s *Stack) Partition() Partition { return s.part }

// owner returns the thread owning the flow between two endpoints.
func (s *Stack) owner(a, b netip.AddrPort) int { return s.part.Thread(a, b, len(s.threads)) }

// Announce sends a gratuitous ARP for our address.
func (s *Stack) Announce() {
	p := s.threads[0]
	p.loop.Post(func() { p.arp.Announce() })
}

// Close stops the threads. Sockets fail with ErrClosed afterwards. The
// link is not closed: the caller owns it.
func (s *Stack) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.link.SetReceiver(func([]byte, link.RSS) {})
	if mq, ok := s.link.(link.Multiqueue); ok {
		mq.SetQueueReceiver(func(int, []byte, link.RSS) {})
	}
	close(s.down)
	for _, p := range s.threads {
		p.loop.Stop()
	}
	if s.ownSys {
		for _, p := range s.threads {
			<-p.loop.Exited()
		}
		s.sys.Stop()
	}
}

// Stats snapshots every thread's counters (each on its own thread).
func (s *Stack) Stats() Stats {
	var st Stats
	for _, p := range s.threads {
		m := &statsMsg{}
		ts := m.st
		if s.call(p, m) == nil {
			ts = m.st
		}
		ts.Thread = p.id
		st.Threads = append(st.Threads, ts)
		st.Total.add(ts)
	}
	return st
}

// Connections lists every thread's TCP connections, tagged by thread.
func (s *Stack) Connections() map[int][]tcp.ConnInfo {
	out := map[int][]tcp.ConnInfo{}
	for _, p := range s.threads {
		m := &connsMsg{}
		if s.call(p, m) == nil {
			out[p.id] = m.list
		}
	}
	return out
}

// receive is the link's receiver: it runs on the device's goroutine and
// only steers the frame to a thread's inbox.
func (s *Stack) receive(f []byte, rss link.RSS) { s.dispatch(f, rss, -1) }

// receiveQueue takes a frame from device queue q, which belongs to CPU
// q mod N: a frame whose owner is another thread is handed over by message
// and counted as a cross-CPU hop on the owner (DragonFly's netisr hand-off
// when the device cannot steer by RSS).
func (s *Stack) receiveQueue(q int, f []byte, rss link.RSS) {
	s.dispatch(f, rss, q%len(s.threads))
}

// dispatch queues a received frame to its owner thread. arrival is the
// thread whose CPU received it, or -1 when the device does not say.
func (s *Stack) dispatch(f []byte, rss link.RSS, arrival int) {
	if len(f) >= ether.HeaderLen && f[12] == 0x08 && f[13] == 0x06 {
		// ARP: every replica learns; frames are read-only from here.
		for _, p := range s.threads {
			p.loop.Post(func() { p.inputFrame(f) })
		}
		return
	}
	t := 0
	switch {
	case rss.Valid:
		t = ThreadOfHash(rss.Hash, len(s.threads))
	default:
		if src, dst, ok := flowOf(f); ok {
			t = s.owner(src, dst)
		}
	}
	p := s.threads[t]
	p.loop.in.PostFrame(p, f, rss, arrival >= 0 && arrival != t)
}

// newProto makes thread i's protocol state (its loop is attached after).
func newProto(s *Stack, i int) *proto {
	p := &proto{s: s, id: i, reasm: ipv4.NewReassembler()}
	// IP identifiers: each thread takes every N-th value so that the
	// threads never hand out the same one at the same time.
	p.ipID = uint16(i)
	p.arp = arp.NewCache(s.mac, s.iface().addr, p.sendFrame, p.sendResolved)
	p.arp.NoReply = i != 0
	p.recycler, _ = s.link.(rxRecycler)
	p.arp.Unreachable = p.hostUnreachable
	// RFC 792/1122: a datagram whose reassembly timed out is reported to
	// its sender with time exceeded, code 1, when fragment 0 arrived.
	p.reasm.Expired = func(first []byte) {
		p.sendError(icmp.TypeTimeExceeded, icmp.CodeReassemblyTime, 0, ipv4.Header(first))
	}
	// The TCP stack reads the clock through the loop's per-turn cache (Loop.Now), from its
	// constructor on: the loop's clock is set here, before the loop starts.
	p.loop.now = s.cfg.Now
	tc := tcp.Config{
		Now: p.loop.Now, Output: p.outputTCP, MTU: s.mtu, ISNSecret: s.cfg.ISNSecret,
	}
	p.setupOffload(&tc) // offload.go
	if s.cfg.TCP != nil {
		s.cfg.TCP(&tc)
	}
	p.tcp = tcp.NewStack(tc)
	return p
}
