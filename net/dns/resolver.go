package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Resolver defaults.
const (
	DefaultTimeout = 2 * time.Second
	DefaultTries   = 3
	maxCNAMEs      = 8
)

var (
	ErrNotFound = errors.New("dns: no such host")
	ErrTimeout  = errors.New("dns: no answer from servers")
	ErrServer   = errors.New("dns: server failure")
)

// Result is delivered to a lookup's callback.
type Result struct {
	Name  string
	Addrs []netip.Addr
	Err   error
}

type pending struct {
	name     string
	id       uint16
	tries    int
	server   int
	deadline time.Time
	done     []func(Result)
}

type cached struct {
	addrs   []netip.Addr
	expires time.Time
}

// Resolver is a stub resolver state machine: Lookup hands queries to Send
// (a UDP datagram to port 53 of a server), Input takes responses, Advance
// retransmits and times out. Owned by one thread; not safe for concurrent
// use.
type Resolver struct {
	Servers []netip.Addr
	Send    func(server netip.Addr, query []byte)
	Rand    func() uint32
	Timeout time.Duration
	Tries   int

	inflight map[uint16]*pending
	byName   map[string]*pending
	cache    map[string]cached
}

func (r *Resolver) init() {
	if r.inflight == nil {
		r.inflight = map[uint16]*pending{}
		r.byName = map[string]*pending{}
		r.cache = map[string]cached{}
		if r.Timeout == 0 {
			r.Timeout = DefaultTimeout
		}
		if r.Tries == 0 {
			r.Tries = DefaultTries
		}
	}
}

// Lookup resolves name to IPv4 addresses; done is called exactly once, maybe
// before Lookup returns (literal address, cache hit, or error).
func (r *Resolver) Lookup(name string, now time.Time, done func(Result)) {
	r.init()
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		done(Result{Name: name, Addrs: []netip.Addr{a}})
		return
	}
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	if c, ok := r.cache[key]; ok && now.Before(c.expires) {
		done(Result{Name: name, Addrs: c.addrs})
		return
	}
	if p := r.byName[key]; p != nil {
		p.done = append(p.done, done)
		return
	}
	if len(r.Servers) == 0 {
		done(Result{Name: name, Err: fmt.Errorf("dns: %s: no servers configured: %w", name, ErrTimeout)})
		return
	}
	p := &pending{name: key, done: []func(Result){done}}
	r.byName[key] = p
	if err := r.send(p, now); err != nil {
		r.finish(p, Result{Err: err})
	}
}

func (r *Resolver) send(p *pending, now time.Time) error {
	delete(r.inflight, p.id)
	p.id = uint16(r.Rand())
	for r.inflight[p.id] != nil {
		p.id++
	}
	q, err := Query(p.id, p.name)
	if err != nil {
		return err
	}
	r.inflight[p.id] = p
	p.tries++
	p.deadline = now.Add(r.Timeout)
	r.Send(r.Servers[p.server%len(r.Servers)], q)
	return nil
}

func (r *Resolver) finish(p *pending, res Result) {
	delete(r.inflight, p.id)
	delete(r.byName, p.name)
	res.Name = p.name
	for _, d := range p.done {
		d(res)
	}
}

// Input handles a response datagram from a server.
func (r *Resolver) Input(b []byte, now time.Time) {
	r.init()
	m, err := Parse(b)
	if err != nil || !m.Response() {
		return
	}
	p := r.inflight[m.ID]
	// The question must echo ours: a mismatched one is a spoof attempt
	// or a stale reply (RFC 5452 §9.1).
	if p == nil || len(m.Questions) != 1 || !strings.EqualFold(strings.TrimSuffix(m.Questions[0].Name, "."), p.name) {
		return
	}
	switch m.RCode() {
	case 0:
	case 3:
		r.finish(p, Result{Err: fmt.Errorf("dns: %s: %w", p.name, ErrNotFound)})
		return
	default:
		r.finish(p, Result{Err: fmt.Errorf("dns: %s: rcode %d: %w", p.name, m.RCode(), ErrServer)})
		return
	}
	// Follow CNAMEs from the queried name through the answer section.
	want := p.name
	var addrs []netip.Addr
	ttl := time.Duration(1<<63 - 1)
	for range maxCNAMEs {
		next := ""
		for _, rr := range m.Answers {
			if !strings.EqualFold(rr.Name, want) || rr.Class != ClassIN {
				continue
			}
			if a, ok := rr.A(); ok {
				addrs = append(addrs, a)
				ttl = min(ttl, rr.TTL)
			} else if rr.Type == TypeCNAME {
				next = rr.Target
				ttl = min(ttl, rr.TTL)
			}
		}
		if len(addrs) > 0 || next == "" {
			break
		}
		want = next
	}
	if len(addrs) == 0 {
		r.finish(p, Result{Err: fmt.Errorf("dns: %s: no A records: %w", p.name, ErrNotFound)})
		return
	}
	r.cache[p.name] = cached{addrs, now.Add(ttl)}
	r.finish(p, Result{Addrs: addrs})
}

// NextDeadline returns the earliest retransmission time.
func (r *Resolver) NextDeadline() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, p := range r.inflight {
		if !ok || p.deadline.Before(t) {
			t, ok = p.deadline, true
		}
	}
	return t, ok
}

// Advance retransmits timed-out queries to the next server and fails those
// that have used all their tries.
func (r *Resolver) Advance(now time.Time) {
	r.init()
	for _, p := range r.inflight {
		if now.Before(p.deadline) {
			continue
		}
		if p.tries >= r.Tries {
			r.finish(p, Result{Err: fmt.Errorf("dns: %s: %w", p.name, ErrTimeout)})
			continue
		}
		p.server++
		if err := r.send(p, now); err != nil {
			r.finish(p, Result{Err: err})
		}
	}
}
