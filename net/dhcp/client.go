package dhcp

import (
	"net/netip"
	"time"

	"damselfly/net/ether"
)

// State is the client state of RFC 2131 §4.4, figure 5.
type State int

const (
	Init State = iota
	Selecting
	Requesting
	Bound
	Renewing
	Rebinding
)

var stateNames = [...]string{"INIT", "SELECTING", "REQUESTING", "BOUND", "RENEWING", "REBINDING"}

func (s State) String() string { return stateNames[s] }

// Retransmission (RFC 2131 §4.1: 4 s doubling to 64 s; we cap lower so a
// lost first exchange costs less at boot).
const (
	initialBackoff = 4 * time.Second
	maxBackoff     = 32 * time.Second
)

// Lease is what the client obtained.
type Lease struct {
	Addr     netip.Prefix
	Routers  []netip.Addr
	DNS      []netip.Addr
	Server   netip.Addr
	Duration time.Duration
	Acquired time.Time
}

// Client is a DHCPv4 client for one interface. Owned by one thread; not
// safe for concurrent use.
type Client struct {
	MAC ether.MAC
	// Send transmits a DHCP message from port 68. dst is the limited
	// broadcast address except when renewing, which is unicast.
	Send func(dst netip.Addr, msg []byte)
	// OnLease is called when a lease is bound or renewed; OnExpire when it
	// lapses without renewal (the interface must drop the address).
	OnLease  func(Lease)
	OnExpire func()
	// Rand supplies transaction identifiers.
	Rand func() uint32

	state    State
	xid      uint32
	offer    *Message
	lease    Lease
	deadline time.Time // next retransmission or state timer
	backoff  time.Duration
	t1, t2   time.Time
	expiry   time.Time
	started  time.Time
}

// State returns the current state.
func (c *Client) State() State { return c.state }

// Lease returns the current lease, valid in Bound, Renewing and Rebinding.
func (c *Client) Lease() Lease { return c.lease }

var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Start begins acquisition from INIT: it broadcasts a DISCOVER.
func (c *Client) Start(now time.Time) {
	c.state = Selecting
	c.xid = c.Rand()
	c.started = now
	c.backoff = initialBackoff
	c.discover(now)
}

func (c *Client) base(typ uint8, now time.Time) *Message {
	return &Message{
		Op: opRequest, XID: c.xid, Type: typ, CHAddr: c.MAC, Flags: flagBcast,
		Secs:   uint16(min(now.Sub(c.started)/time.Second, 0xffff)),
		Params: []byte{OptSubnetMask, OptRouter, OptDNS, OptLeaseTime, OptRenewalT1, OptRebindT2},
	}
}

func (c *Client) discover(now time.Time) {
	c.Send(broadcast, c.base(Discover, now).Encode())
	c.deadline = now.Add(c.backoff)
}

func (c *Client) request(now time.Time) {
	m := c.base(Request, now)
	switch c.state {
	case Requesting:
		// SELECTING → REQUESTING: server id and requested address.
		m.ServerID = c.offer.ServerID
		m.ReqIP = c.offer.YIAddr
		c.Send(broadcast, m.Encode())
	case Renewing, Rebinding:
		// RFC 2131 §4.3.2: ciaddr filled in, no server id or
		// requested address; unicast to the server when renewing.
		m.CIAddr = c.lease.Addr.Addr()
		m.Flags = 0
		dst := broadcast
		if c.state == Renewing {
			dst = c.lease.Server
		}
		c.Send(dst, m.Encode())
	}
}

// Input handles a received DHCP message (UDP payload to port 68).
func (c *Client) Input(b []byte, now time.Time) {
	m, err := Parse(b)
	if err != nil || m.Op != opReply || m.XID != c.xid || m.CHAddr != c.MAC {
		return
	}
	switch c.state {
	case Selecting:
		if m.Type != Offer || !m.YIAddr.Is4() || !m.ServerID.IsValid() {
			return
		}
		c.offer = m
		c.state = Requesting
		c.backoff = initialBackoff
		c.request(now)
		c.deadline = now.Add(c.backoff)
	case Requesting, Renewing, Rebinding:
		switch m.Type {
		case Ack:
			c.bind(m, now)
		case Nak:
			c.restart(now)
		}
	}
}

func (c *Client) bind(m *Message, now time.Time) {
	pfx := m.Mask
	if !pfx.IsValid() {
		pfx = netip.PrefixFrom(m.YIAddr, 24) // no mask option: assume /24
	}
	server := m.ServerID
	if !server.IsValid() {
		server = c.lease.Server
	}
	lease := m.Lease
	if lease <= 0 {
		lease = time.Hour
	}
	t1, t2 := m.T1, m.T2
	// RFC 2131 §4.4.5 defaults: T1 = 0.5, T2 = 0.875 of the lease.
	if t1 <= 0 || t1 >= lease {
		t1 = lease / 2
	}
	if t2 <= t1 || t2 >= lease {
		t2 = lease * 7 / 8
	}
	c.lease = Lease{Addr: pfx, Routers: m.Routers, DNS: m.DNS, Server: server, Duration: lease, Acquired: now}
	c.state = Bound
	c.t1, c.t2, c.expiry = now.Add(t1), now.Add(t2), now.Add(lease)
	c.deadline = c.t1
	if c.OnLease != nil {
		c.OnLease(c.lease)
	}
}

func (c *Client) restart(now time.Time) {
	had := c.state >= Bound
	c.state = Init
	c.offer = nil
	if had && c.OnExpire != nil {
		c.OnExpire()
	}
	c.Start(now)
}

// NextDeadline returns when Advance must next be called.
func (c *Client) NextDeadline() (time.Time, bool) {
	return c.deadline, c.state != Init
}

// Advance runs timers: retransmissions, T1 (renew), T2 (rebind), expiry.
func (c *Client) Advance(now time.Time) {
	if c.state == Init || now.Before(c.deadline) {
		return
	}
	switch c.state {
	case Selecting:
		c.backoff = min(c.backoff*2, maxBackoff)
		c.discover(now)
	case Requesting:
		c.backoff = min(c.backoff*2, maxBackoff)
		if c.backoff >= maxBackoff {
			c.restart(now)
			return
		}
		c.request(now)
		c.deadline = now.Add(c.backoff)
	case Bound, Renewing, Rebinding:
		switch {
		case !now.Before(c.expiry):
			c.restart(now)
			return
		case !now.Before(c.t2):
			c.state = Rebinding
		default:
			c.state = Renewing
		}
		c.request(now)
		// RFC 2131 §4.4.5: retry at half the remaining time to the
		// next boundary, but not more often than once a minute.
		next := c.t2
		if c.state == Rebinding {
			next = c.expiry
		}
		wait := max(next.Sub(now)/2, time.Minute)
		c.deadline = now.Add(wait)
		if c.deadline.After(next) {
			c.deadline = next
		}
	}
}
