package tcp

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"io"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"damselfly/net/checksum"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// The in-memory link: two Stacks joined by a simulated wire with
// serialization rate, propagation delay, jitter (which reorders), loss,
// duplication, corruption and a drop-tail queue, all driven by a fake
// clock and a seeded RNG so every run is reproducible.

type linkConfig struct {
	Rate     float64       // bytes per second per direction (0: infinite)
	Delay    time.Duration // one-way propagation
	Jitter   time.Duration // extra uniform random delay (reorders)
	Loss     float64       // probability a packet is dropped
	Dup      float64       // probability a packet is duplicated
	Corrupt  float64       // probability a byte is flipped
	MaxQueue time.Duration // drop-tail: queueing delay beyond this drops (0: unbounded)
	Check    bool          // decode every packet with gopacket
}

type simPacket struct {
	at       time.Time
	order    uint64
	toB      bool
	src, dst netip.Addr
	data     []byte
}

type pktHeap []*simPacket

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].order < h[j].order
	}
	return h[i].at.Before(h[j].at)
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(*simPacket)) }
func (h *pktHeap) Pop() any {
	o := *h
	p := o[len(o)-1]
	*h = o[:len(o)-1]
	return p
}

type capture struct {
	at   time.Time
	data []byte // IPv4 packet
}

type sim struct {
	t        testing.TB
	now      time.Time
	rng      *rand.Rand
	cfg      linkConfig
	a, b     *Stack
	addrA    netip.Addr
	addrB    netip.Addr
	q        pktHeap
	order    uint64
	busy     [2]time.Time // per direction: link busy until
	trace    []capture    // recent packets for the pcap
	traceMax int
	sent     int
	free     [][]byte // packet buffers for reuse (only without tracing)
	freePkts []*simPacket
	// impair, if set, sees every segment that survived the random loss:
	// it may drop it or hold it back for extra time (deterministic loss
	// and reordering for targeted tests).
	impair func(toB bool, seg []byte) (drop bool, extra time.Duration)
}

func (sm *sim) getBuf() []byte {
	if n := len(sm.free); n > 0 {
		b := sm.free[n-1]
		sm.free = sm.free[:n-1]
		return b
	}
	return make([]byte, 0, 2048)
}

func newSim(t testing.TB, lc linkConfig, seed int64, mod func(*Config)) *sim {
	sm := &sim{
		t: t, cfg: lc, rng: rand.New(rand.NewSource(seed)),
		now:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		addrA: netip.MustParseAddr("10.0.0.1"), addrB: netip.MustParseAddr("10.0.0.2"),
		traceMax: 20000,
	}
	mk := func(toB bool, key byte) *Stack {
		cfg := Config{
			Now: func() time.Time { return sm.now },
			Output: func(src, dst netip.Addr, seg []byte) {
				sm.send(toB, src, dst, seg)
			},
		}
		cfg.ISNSecret[0] = key
		if mod != nil {
			mod(&cfg)
		}
		return NewStack(cfg)
	}
	sm.a = mk(true, 1)
	sm.b = mk(false, 2)
	return sm
}

func (sm *sim) record(src, dst netip.Addr, seg []byte) {
	if sm.traceMax == 0 {
		return
	}
	if len(sm.trace) >= sm.traceMax {
		copy(sm.trace, sm.trace[sm.traceMax/2:])
		sm.trace = sm.trace[:len(sm.trace)-sm.traceMax/2]
	}
	sm.trace = append(sm.trace, capture{sm.now, ipv4Wrap(src, dst, seg)})
}

// ipv4Wrap prefixes seg with a minimal IPv4 header for the pcap.
func ipv4Wrap(src, dst netip.Addr, seg []byte) []byte {
	p := make([]byte, 20+len(seg))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(min(len(p), 0xffff)))
	p[8] = 64
	p[9] = ProtocolNumber
	s4, d4 := src.As4(), dst.As4()
	copy(p[12:], s4[:])
	copy(p[16:], d4[:])
	binary.BigEndian.PutUint16(p[10:], checksum.Checksum(p[:20]))
	copy(p[20:], seg)
	return p
}

func (sm *sim) send(toB bool, src, dst netip.Addr, seg []byte) {
	sm.sent++
	if sm.cfg.Check {
		checkWithGopacket(sm.t, src, dst, seg)
	}
	data := append(sm.getBuf(), seg...)
	sm.record(src, dst, data)
	if sm.rng.Float64() < sm.cfg.Loss {
		return
	}
	var extra time.Duration
	if sm.impair != nil {
		drop, d := sm.impair(toB, seg)
		if drop {
			return
		}
		extra = d
	}
	dir := 0
	if toB {
		dir = 1
	}
	depart := sm.now
	if sm.cfg.Rate > 0 {
		if sm.busy[dir].After(depart) {
			depart = sm.busy[dir]
		}
		if sm.cfg.MaxQueue > 0 && depart.Sub(sm.now) > sm.cfg.MaxQueue {
			return // drop-tail
		}
		depart = depart.Add(time.Duration(float64(len(data)+40) / sm.cfg.Rate * 1e9))
		sm.busy[dir] = depart
	}
	copies := 1
	if sm.rng.Float64() < sm.cfg.Dup {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		d := data
		if i > 0 {
			d = append(sm.getBuf(), data...)
		}
		if sm.rng.Float64() < sm.cfg.Corrupt {
			d[sm.rng.Intn(len(d))] ^= byte(1 + sm.rng.Intn(255))
		}
		at := depart.Add(sm.cfg.Delay + extra)
		if sm.cfg.Jitter > 0 {
			at = at.Add(time.Duration(sm.rng.Int63n(int64(sm.cfg.Jitter))))
		}
		sm.order++
		var p *simPacket
		if n := len(sm.freePkts); n > 0 {
			p = sm.freePkts[n-1]
			sm.freePkts = sm.freePkts[:n-1]
		} else {
			p = new(simPacket)
		}
		*p = simPacket{at: at, order: sm.order, toB: toB, src: src, dst: dst, data: d}
		heap.Push(&sm.q, p)
	}
}

// nextEvent is when sm.step would next act.
func (sm *sim) nextEvent() (time.Time, bool) {
	next, ok := time.Time{}, false
	consider := func(t time.Time, has bool) {
		if has && (!ok || t.Before(next)) {
			next, ok = t, true
		}
	}
	if len(sm.q) > 0 {
		consider(sm.q[0].at, true)
	}
	consider(sm.a.NextDeadline())
	consider(sm.b.NextDeadline())
	return next, ok
}

// step runs the next event (packet arrival or timer); it returns false
// when nothing is pending.
func (sm *sim) step() bool {
	next, ok := sm.nextEvent()
	if !ok {
		return false
	}
	if next.After(sm.now) {
		sm.now = next
	}
	if len(sm.q) > 0 && !sm.q[0].at.After(sm.now) {
		p := heap.Pop(&sm.q).(*simPacket)
		if p.toB {
			sm.b.Deliver(p.src, p.dst, p.data)
		} else {
			sm.a.Deliver(p.src, p.dst, p.data)
		}
		if sm.traceMax == 0 {
			sm.free = append(sm.free, p.data[:0])
		}
		sm.freePkts = append(sm.freePkts, p)
		return true
	}
	sm.a.Advance()
	sm.b.Advance()
	return true
}

// runUntil steps until cond holds, failing after limit of simulated time.
func (sm *sim) runUntil(limit time.Duration, cond func() bool) {
	sm.t.Helper()
	end := sm.now.Add(limit)
	for !cond() {
		if !sm.step() || sm.now.After(end) {
			sm.fail("condition not reached after %v simulated (now %v)", limit, sm.now)
			return
		}
	}
}

// fail writes the recent packets to a pcap and fails the test.
func (sm *sim) fail(format string, args ...any) {
	sm.t.Helper()
	path := sm.writePcap()
	sm.t.Fatalf(format+" (pcap: %s)", append(args, path)...)
}

func (sm *sim) writePcap() string {
	dir := os.Getenv("DAMSELFLY_PCAP_DIR")
	if dir == "" {
		dir = sm.t.TempDir()
	}
	path := filepath.Join(dir, filepath.Base(sm.t.Name())+".pcap")
	f, err := os.Create(path)
	if err != nil {
		return "(pcap failed: " + err.Error() + ")"
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeRaw); err != nil {
		return "(pcap failed: " + err.Error() + ")"
	}
	for _, c := range sm.trace {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: c.at, CaptureLength: len(c.data), Length: len(c.data)}, c.data)
	}
	sm.t.Logf("pcap of the last %d packets: %s", len(sm.trace), path)
	return path
}

// checkWithGopacket decodes seg independently and compares the fields.
func checkWithGopacket(t testing.TB, src, dst netip.Addr, seg []byte) {
	t.Helper()
	pkt := gopacket.NewPacket(ipv4Wrap(src, dst, seg), layers.LayerTypeIPv4, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("gopacket: %v", el.Error())
	}
	tl, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("gopacket found no TCP layer")
	}
	h := Header(seg)
	if uint16(tl.SrcPort) != h.SrcPort() || uint16(tl.DstPort) != h.DstPort() || tl.Seq != h.Seq() ||
		tl.Ack != h.Ack() || tl.Window != h.Window() || int(tl.DataOffset)*4 != h.DataOffset() ||
		tl.SYN != (h.Flags()&FlagSYN != 0) || tl.ACK != (h.Flags()&FlagACK != 0) ||
		tl.FIN != (h.Flags()&FlagFIN != 0) || tl.RST != (h.Flags()&FlagRST != 0) ||
		tl.PSH != (h.Flags()&FlagPSH != 0) || len(tl.Payload) != len(h.Payload()) {
		t.Fatalf("gopacket disagrees: %+v vs ours seq=%d ack=%d flags=%v", tl, h.Seq(), h.Ack(), h.Flags())
	}
	var o Options
	if err := ParseOptions(h.Options(), &o); err != nil {
		t.Fatalf("our own options do not parse: %v", err)
	}
	for _, opt := range tl.Options {
		switch opt.OptionType {
		case layers.TCPOptionKindMSS:
			if !o.HasMSS || binary.BigEndian.Uint16(opt.OptionData) != o.MSS {
				t.Fatalf("MSS mismatch")
			}
		case layers.TCPOptionKindTimestamps:
			if !o.HasTS || binary.BigEndian.Uint32(opt.OptionData) != o.TSVal {
				t.Fatalf("timestamp mismatch")
			}
		case layers.TCPOptionKindWindowScale:
			if !o.HasWScale || opt.OptionData[0] != o.WScale {
				t.Fatalf("wscale mismatch")
			}
		case layers.TCPOptionKindSACK:
			if int(opt.OptionLength-2)/8 != o.NumSACK {
				t.Fatalf("SACK count mismatch")
			}
		}
	}
	sum := checksum.Fold(checksum.Add(checksum.PseudoHeader(src, dst, ProtocolNumber, len(seg)), seg))
	if sum != 0 {
		t.Fatalf("bad checksum on emitted segment")
	}
}

// The test streams are windows onto a random table whose length is prime,
// so a byte delivered at the wrong offset (duplicated, skipped, shifted by
// any amount short of the table length) cannot match. Copy and compare go
// through copy and bytes.Equal, which keeps the check cheap under -race.
const patternLen = 1<<20 + 7 // prime

var patternTable = func() []byte {
	b := make([]byte, patternLen)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}()

// fillPattern fills p with the stream bytes starting at offset off of the
// stream seeded by seed.
func fillPattern(seed byte, off uint64, p []byte) {
	pos := int((off + uint64(seed)*7919) % patternLen)
	for len(p) > 0 {
		n := copy(p, patternTable[pos:])
		p = p[n:]
		pos = 0
	}
}

// streamer pushes n pattern bytes into one Conn and checks them on the
// other, byte by byte.
type streamer struct {
	t             testing.TB
	seed          byte
	n             uint64
	w, r          *Conn
	written, read uint64
	wbuf, rbuf    []byte
	want          []byte
	closedWrite   bool
	eof           bool
	err           error
}

func newStreamer(t testing.TB, seed byte, n uint64, w, r *Conn) *streamer {
	return &streamer{t: t, seed: seed, n: n, w: w, r: r,
		wbuf: make([]byte, 64<<10), rbuf: make([]byte, 64<<10), want: make([]byte, 64<<10)}
}

func (st *streamer) pump() {
	for st.written < st.n {
		k := int(min(uint64(len(st.wbuf)), st.n-st.written))
		fillPattern(st.seed, st.written, st.wbuf[:k])
		n, err := st.w.Write(st.wbuf[:k])
		st.written += uint64(n)
		if err != nil || n < k {
			break
		}
	}
	if st.written == st.n && !st.closedWrite {
		st.closedWrite = true
		if err := st.w.CloseWrite(); err != nil {
			st.err = err
		}
	}
	for !st.eof && st.err == nil {
		n, err := st.r.Read(st.rbuf)
		if n > 0 {
			fillPattern(st.seed, st.read, st.want[:n])
			if !bytes.Equal(st.rbuf[:n], st.want[:n]) {
				i := 0
				for st.rbuf[i] == st.want[i] {
					i++
				}
				st.err = errorf("byte %d: got %#x want %#x", st.read+uint64(i), st.rbuf[i], st.want[i])
				return
			}
		}
		st.read += uint64(n)
		if st.read > st.n {
			st.err = errorf("read %d bytes, more than the %d sent", st.read, st.n)
		}
		if err == ErrWouldBlock {
			break
		}
		if err != nil {
			if err == io.EOF {
				st.eof = true
				if st.read != st.n {
					st.err = errorf("EOF after %d of %d bytes", st.read, st.n)
				}
			} else {
				st.err = err
			}
		}
	}
}

func (st *streamer) done() bool { return st.eof || st.err != nil }
