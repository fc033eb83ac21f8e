package arp

import (
	"net/netip"
	"time"

	"damselfly/net/ether"
)

// Cache limits and timers. Linux uses a reachable time of about 30 s and
// three probes a second apart; we keep entries a little longer since we
// have no reachability confirmation from upper layers.
const (
	DefaultTTL       = 60 * time.Second
	DefaultRetry     = time.Second
	DefaultRetries   = 3
	DefaultMaxQueued = 16  // packets held per unresolved address
	DefaultMaxEntry  = 512 // entries before the oldest is evicted
)

// Counters for the slow paths of the cache.
type Counters struct {
	Requests, Replies, RepliesSent, Gratuitous uint64
	Hits, Misses, Queued, QueueDrops           uint64
	Timeouts, Evictions, Malformed             uint64
}

type entry struct {
	mac      ether.MAC
	resolved bool
	expires  time.Time // resolved: when the entry goes stale; pending: next retry
	tries    int
	queue    [][]byte // IPv4 packets waiting for the address, unresolved only
}

// Cache is an ARP neighbour cache for one interface. It is owned by one
// protocol thread and is not safe for concurrent use. It never reads the
// clock itself: times are passed in, so tests drive it deterministically.
type Cache struct {
	MAC ether.MAC
	IP  netip.Addr

	TTL, Retry         time.Duration
	Retries, MaxQueued int
	MaxEntries         int
	// NoReply makes the cache learn from requests without answering
	// them: replicas of a cache on other threads stay quiet so that a
	// request is answered once.
	NoReply bool

	// Send transmits a complete Ethernet frame.
	Send func(frame []byte)
	// Deliver is called with each queued IPv4 packet once its next hop
	// is resolved; the caller adds the Ethernet header.
	Deliver func(dst ether.MAC, ipPacket []byte)
	// Unreachable is told about packets dropped because resolution
	// failed, so IPv4 can send ICMP host-unreachable to local senders.
	Unreachable func(ipPacket []byte)

	Stats   Counters
	entries map[netip.Addr]*entry
}

// NewCache returns a cache for the interface (mac, ip) with default limits.
func NewCache(mac ether.MAC, ip netip.Addr, send func([]byte), deliver func(ether.MAC, []byte)) *Cache {
	return &Cache{
		MAC: mac, IP: ip, TTL: DefaultTTL, Retry: DefaultRetry, Retries: DefaultRetries,
		MaxQueued: DefaultMaxQueued, MaxEntries: DefaultMaxEntry,
		Send: send, Deliver: deliver, entries: make(map[netip.Addr]*entry),
	}
}

// Lookup returns the MAC of a resolved, unexpired entry.
func (c *Cache) Lookup(ip netip.Addr, now time.Time) (ether.MAC, bool) {
	e := c.entries[ip]
	if e == nil || !e.resolved || !now.Before(e.expires) {
		return ether.MAC{}, false
	}
	return e.mac, true
}

// Resolve sends pkt to ip's MAC if known (through Deliver) or queues it and
// starts resolution. It reports whether the packet went out at once.
func (c *Cache) Resolve(ip netip.Addr, pkt []byte, now time.Time) bool {
	if mac, ok := c.Lookup(ip, now); ok {
		c.Stats.Hits++
		c.Deliver(mac, pkt)
		return true
	}
	c.Stats.Misses++
	e := c.entries[ip]
	if e == nil || e.resolved {
		// New or stale: start a fresh resolution.
		c.makeRoom()
		e = &entry{}
		c.entries[ip] = e
		c.request(ip, e, now)
	}
	if len(e.queue) >= c.MaxQueued {
		// Drop the oldest, as Linux's unres_qlen does: the newest packet
		// is likelier to still matter when the reply comes.
		c.Stats.QueueDrops++
		e.queue = e.queue[1:]
	}
	e.queue = append(e.queue, append([]byte(nil), pkt...))
	c.Stats.Queued++
	return false
}

func (c *Cache) request(ip netip.Addr, e *entry, now time.Time) {
	e.tries++
	e.expires = now.Add(c.Retry)
	c.Stats.Requests++
	c.Send(Frame(OpRequest, c.MAC, c.IP, ether.MAC{}, ip))
}

// makeRoom evicts one entry, preferring a resolved one, when the table is
// full. Linear, but only on the slow path of a full table.
func (c *Cache) makeRoom() {
	if len(c.entries) < c.MaxEntries {
		return
	}
	var victim netip.Addr
	var oldest time.Time
	found := false
	for ip, e := range c.entries {
		if e.resolved && (!found || e.expires.Before(oldest)) {
			victim, oldest, found = ip, e.expires, true
		}
	}
	if !found {
		for ip := range c.entries {
			victim = ip
			break
		}
	}
	c.drop(victim)
	c.Stats.Evictions++
}

func (c *Cache) drop(ip netip.Addr) {
	if e := c.entries[ip]; e != nil && c.Unreachable != nil {
		for _, p := range e.queue {
			c.Unreachable(p)
		}
	}
	delete(c.entries, ip)
}

// Input handles a received ARP packet (the Ethernet payload).
func (c *Cache) Input(b []byte, now time.Time) {
	p, err := Parse(b)
	if err != nil {
		c.Stats.Malformed++
		return
	}
	sip, smac := p.SenderIP(), p.SenderMAC()
	forUs := p.TargetIP() == c.IP
	if sip == p.TargetIP() {
		c.Stats.Gratuitous++
	}
	// RFC 826 "Packet Reception": update an existing entry for the
	// sender; add one only if the packet is addressed to us.
	if e := c.entries[sip]; e != nil {
		c.learn(sip, e, smac, now)
	} else if forUs && sip.IsValid() && !sip.IsUnspecified() {
		c.makeRoom()
		e := &entry{}
		c.entries[sip] = e
		c.learn(sip, e, smac, now)
	}
	switch p.Op() {
	case OpRequest:
		if forUs && sip != c.IP && !c.NoReply {
			c.Stats.RepliesSent++
			c.Send(Frame(OpReply, c.MAC, c.IP, smac, sip))
		}
	case OpReply:
		c.Stats.Replies++
	}
}

func (c *Cache) learn(ip netip.Addr, e *entry, mac ether.MAC, now time.Time) {
	e.mac, e.resolved, e.tries = mac, true, 0
	e.expires = now.Add(c.TTL)
	q := e.queue
	e.queue = nil
	for _, pkt := range q {
		c.Deliver(mac, pkt)
	}
}

// Announce sends a gratuitous ARP for our address.
func (c *Cache) Announce() { c.Send(Gratuitous(c.MAC, c.IP)) }

// NextDeadline returns the earliest retry or expiry in the cache.
func (c *Cache) NextDeadline() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, e := range c.entries {
		if !ok || e.expires.Before(t) {
			t, ok = e.expires, true
		}
	}
	return t, ok
}

// Advance retransmits pending requests, gives up on addresses that did not
// answer (dropping their queues), and forgets expired entries.
func (c *Cache) Advance(now time.Time) {
	for ip, e := range c.entries {
		if now.Before(e.expires) {
			continue
		}
		if e.resolved {
			delete(c.entries, ip)
			continue
		}
		if e.tries >= c.Retries {
			c.Stats.Timeouts++
			c.drop(ip)
			continue
		}
		c.request(ip, e, now)
	}
}

// Len returns the number of entries, resolved or pending.
func (c *Cache) Len() int { return len(c.entries) }
