package link

import (
	"container/heap"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"damselfly/net/ether"
)

// Impairments describes what a pipe does to frames in one direction.
// Probabilities are in [0, 1].
type Impairments struct {
	Loss      float64       // frame silently dropped
	Duplicate float64       // frame delivered twice
	Corrupt   float64       // one random bit flipped (in the payload past the Ethernet header)
	Reorder   float64       // frame held back an extra ReorderDelay
	Delay     time.Duration // added to every frame
	Jitter    time.Duration // uniform extra delay in [0, Jitter)
	// ReorderDelay is how long a reordered frame waits (default: 1 ms
	// plus Delay), letting later frames overtake it.
	ReorderDelay time.Duration
}

func (im Impairments) delays() bool {
	return im.Delay > 0 || im.Jitter > 0 || im.Reorder > 0
}

// PipeConfig configures a Pipe.
type PipeConfig struct {
	MTU int // default 1500
	// Now is the clock the delays are measured on; default time.Now.
	// Tests pass a fake clock and call Advance.
	Now func() time.Time
	// AtoB and BtoA impair the two directions independently.
	AtoB, BtoA Impairments
	// Seed makes the impairments reproducible.
	Seed int64
	// RSSKey, if set, makes both ends compute a Toeplitz hash over each
	// received IPv4 TCP/UDP frame, as a multi-queue NIC does.
	RSSKey []byte
	// Hash computes the RSS hash of a frame for RSSKey; the stack
	// supplies its own Toeplitz function so the pipe and the stack agree
	// by construction, and tests check it against the published vectors.
	Hash func(key, frame []byte) (uint32, bool)
	// Observe, if set, sees every frame as sent (before impairments),
	// with the sending end and the time: tests record a pcap from it.
	// It is called under the pipe's lock and must not call back.
	Observe func(from *PipeEnd, at time.Time, frame []byte)
	// Offload makes both ends link.Offloaders that finish checksums and
	// cut TCP segments in software (FinishOffload) before the frames
	// enter the wire: host tests run the stack's offload path end to end.
	Offload Offloads
	// RxChecksumValid marks every frame that arrives intact (not
	// corrupted by the pipe) with RSS.ChecksumValid, as a device that
	// verified the checksums does; corrupted frames arrive unmarked.
	RxChecksumValid bool
	// OffloadPassthrough, with Offload, delivers offload requests whole
	// and unfinished (the checksum left partial, a GSO frame uncut),
	// marked ChecksumValid, as Linux's veth does between two stacks on
	// one host: the receiver takes the large segment as a GRO'd one.
	// Impairments other than corruption apply to the whole frame.
	OffloadPassthrough bool
}

// PipeStats counts what a direction did.
type PipeStats struct {
	Sent, Delivered, Lost, Duplicated, Corrupted, Reordered uint64
}

// Pipe is a pair of connected endpoints, like a cable between two NICs.
// Frames with no delay are delivered synchronously inside Send; delayed
// frames wait in a queue ordered by due time and are delivered by Advance
// (with a fake clock) or by the pipe's own timer goroutine (RunTimer, real
// clock).
type Pipe struct {
	A, B *PipeEnd

	cfg PipeConfig
	mu  sync.Mutex // guards rng, queue, seq, stats, closed
	rng *rand.Rand
	q   frameHeap
	seq uint64
	// kick wakes the timer goroutine when a new earliest frame is queued.
	kick chan struct{}
}

// PipeEnd is one end of a Pipe.
type PipeEnd struct {
	p     *Pipe
	mac   ether.MAC
	peer  *PipeEnd
	im    Impairments
	stats PipeStats

	rmu    sync.RWMutex
	recv   Receiver
	closed bool

	// free holds frames the receiver handed back (RecycleRx): frames sent
	// to this end are copied into them, as a NIC driver refills its ring
	// with the buffers the stack is done with. fmu guards it.
	fmu  sync.Mutex
	free [][]byte
}

// maxFreeFrames bounds an end's free list: a burst beyond it is garbage.
const maxFreeFrames = 256

// RecycleRx takes back a frame this end delivered, once the receiver is
// done with it and keeps no reference (net/stack hands back frames whose
// payload TCP has copied). A later frame sent to this end reuses it.
func (e *PipeEnd) RecycleRx(f []byte) {
	e.fmu.Lock()
	if len(e.free) < maxFreeFrames {
		e.free = append(e.free, f[:0])
	}
	e.fmu.Unlock()
}

// frameCopy returns a copy of frame for delivery to e, in a recycled
// buffer when one is large enough.
func (e *PipeEnd) frameCopy(frame []byte) []byte {
	e.fmu.Lock()
	if n := len(e.free); n > 0 && cap(e.free[n-1]) >= len(frame) {
		b := e.free[n-1]
		e.free[n-1] = nil
		e.free = e.free[:n-1]
		e.fmu.Unlock()
		return append(b, frame...)
	}
	e.fmu.Unlock()
	return append(make([]byte, 0, max(len(frame), ether.HeaderLen+e.p.cfg.MTU)), frame...)
}

type queued struct {
	due     time.Time
	seq     uint64
	to      *PipeEnd
	frame   []byte
	corrupt bool
	valid   bool // ChecksumValid regardless of RxChecksumValid
}

type frameHeap []queued

func (h frameHeap) Len() int { return len(h) }
func (h frameHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h frameHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *frameHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// NewPipe returns a connected pair; A has MAC 02:00:00:00:00:0a, B
// 02:00:00:00:00:0b.
func NewPipe(cfg PipeConfig) *Pipe {
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pipe{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), kick: make(chan struct{}, 1)}
	p.A = &PipeEnd{p: p, mac: ether.MAC{2, 0, 0, 0, 0, 0xa}, im: cfg.AtoB}
	p.B = &PipeEnd{p: p, mac: ether.MAC{2, 0, 0, 0, 0, 0xb}, im: cfg.BtoA}
	p.A.peer, p.B.peer = p.B, p.A
	return p
}

func (e *PipeEnd) MTU() int               { return e.p.cfg.MTU }
func (e *PipeEnd) MAC() ether.MAC         { return e.mac }
func (e *PipeEnd) SetReceiver(r Receiver) { e.rmu.Lock(); e.recv = r; e.rmu.Unlock() }
func (e *PipeEnd) RSSKey() []byte         { return e.p.cfg.RSSKey }

// Stats returns the counters of frames sent from this end.
func (e *PipeEnd) Stats() PipeStats {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.stats
}

// Close stops both directions out of this end.
func (e *PipeEnd) Close() error {
	e.rmu.Lock()
	e.closed = true
	e.rmu.Unlock()
	return nil
}

// OffloadCaps implements Offloader with PipeConfig.Offload.
func (e *PipeEnd) OffloadCaps() Offloads { return e.p.cfg.Offload }

// SendOffload implements Offloader: the frame is finished in software
// and each resulting frame goes through Send (so impairments hit
// segments, as on a wire behind a real device).
func (e *PipeEnd) SendOffload(frame []byte, o TxOffload) error {
	caps := e.p.cfg.Offload
	if o.Csum && !caps.Csum || o.GSOType != GSONone && !caps.TSO4 {
		return fmt.Errorf("link: pipe: offload %+v not offered (%+v)", o, caps)
	}
	if o.GSOType == GSONone && len(frame) > ether.HeaderLen+e.p.cfg.MTU ||
		len(frame) > ether.HeaderLen+caps.MaxGSODatagram() {
		return fmt.Errorf("link: pipe: %d-byte frame: %w", len(frame), ErrOffloadRequest)
	}
	if e.p.cfg.OffloadPassthrough {
		return e.passthrough(frame)
	}
	var serr error
	err := FinishOffload(frame, o, func(f []byte) {
		if err := e.Send(f); err != nil && serr == nil {
			serr = err
		}
	})
	if err != nil {
		return fmt.Errorf("link: pipe: %w", err)
	}
	return serr
}

// passthrough delivers an unfinished offload frame to the peer, marked
// valid; loss, duplication and delays apply, corruption does not (a
// partial checksum could not reveal it).
func (e *PipeEnd) passthrough(frame []byte) error {
	e.rmu.RLock()
	closed := e.closed
	e.rmu.RUnlock()
	if closed {
		return ErrClosed
	}
	im := e.im
	im.Corrupt = 0
	return e.sendImpaired(frame, im, true)
}

// Send applies this direction's impairments and delivers or queues the
// frame for the peer.
func (e *PipeEnd) Send(frame []byte) error {
	e.rmu.RLock()
	closed := e.closed
	e.rmu.RUnlock()
	if closed {
		return ErrClosed
	}
	if len(frame) > ether.HeaderLen+e.p.cfg.MTU {
		return nil // a real wire would drop it too; counted as lost
	}
	return e.sendImpaired(frame, e.im, false)
}

// sendImpaired delivers or queues frame under impairments im; valid marks
// it ChecksumValid whatever the pipe's RxChecksumValid says.
func (e *PipeEnd) sendImpaired(frame []byte, im Impairments, valid bool) error {
	p := e.p
	// The clock is read only for what needs it (an observer, a delay, a
	// queue to join): a frame delivered at once needs no time.
	var now time.Time
	if p.cfg.Observe != nil || im.delays() {
		now = p.cfg.Now()
	}
	var out [2]queued
	n := 0
	p.mu.Lock()
	e.stats.Sent++
	if p.cfg.Observe != nil {
		p.cfg.Observe(e, now, frame)
	}
	if im.Loss > 0 && p.rng.Float64() < im.Loss {
		e.stats.Lost++
		p.mu.Unlock()
		return nil
	}
	copies := 1
	if im.Duplicate > 0 && p.rng.Float64() < im.Duplicate {
		copies = 2
		e.stats.Duplicated++
	}
	for range copies {
		f := e.peer.frameCopy(frame)
		corrupt := false
		if im.Corrupt > 0 && len(f) > ether.HeaderLen && p.rng.Float64() < im.Corrupt {
			i := ether.HeaderLen + p.rng.Intn(len(f)-ether.HeaderLen)
			f[i] ^= 1 << p.rng.Intn(8)
			e.stats.Corrupted++
			corrupt = true
		}
		d := im.Delay
		if im.Jitter > 0 {
			d += time.Duration(p.rng.Int63n(int64(im.Jitter)))
		}
		if im.Reorder > 0 && p.rng.Float64() < im.Reorder {
			rd := im.ReorderDelay
			if rd == 0 {
				rd = time.Millisecond + im.Delay
			}
			d += rd
			e.stats.Reordered++
		}
		out[n] = queued{due: now.Add(d), frame: f, to: e.peer, corrupt: corrupt, valid: valid}
		n++
	}
	if !im.delays() && len(p.q) == 0 {
		e.stats.Delivered += uint64(n)
		p.mu.Unlock()
		for _, q := range out[:n] {
			q.to.deliver(q.frame, q.corrupt, q.valid)
		}
		return nil
	}
	if now.IsZero() {
		now = p.cfg.Now()
		for i := range out[:n] {
			out[i].due = now
		}
	}
	wasFirst := false
	for _, q := range out[:n] {
		p.seq++
		q.seq = p.seq
		heap.Push(&p.q, q)
		wasFirst = wasFirst || p.q[0].seq == q.seq
	}
	p.mu.Unlock()
	if wasFirst {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (e *PipeEnd) deliver(f []byte, corrupt, valid bool) {
	e.rmu.RLock()
	r, closed := e.recv, e.closed
	e.rmu.RUnlock()
	if r == nil || closed {
		return
	}
	var rss RSS
	if key := e.p.cfg.RSSKey; key != nil && e.p.cfg.Hash != nil {
		rss.Hash, rss.Valid = e.p.cfg.Hash(key, f)
	}
	rss.ChecksumValid = valid || e.p.cfg.RxChecksumValid && !corrupt
	r(f, rss)
}

// NextDeadline returns the due time of the earliest queued frame.
func (p *Pipe) NextDeadline() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		return time.Time{}, false
	}
	return p.q[0].due, true
}

// Advance delivers every queued frame that is due by the clock's now.
func (p *Pipe) Advance() {
	now := p.cfg.Now()
	for {
		p.mu.Lock()
		if len(p.q) == 0 || p.q[0].due.After(now) {
			p.mu.Unlock()
			return
		}
		q := heap.Pop(&p.q).(queued)
		q.to.peer.stats.Delivered++
		p.mu.Unlock()
		q.to.deliver(q.frame, q.corrupt, q.valid)
	}
}

// RunTimer delivers delayed frames on the real clock until stop is
// closed. Needed only when impairments delay frames and the clock is real.
func (p *Pipe) RunTimer(stop <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		p.Advance()
		if d, ok := p.NextDeadline(); ok {
			t.Reset(time.Until(d))
		} else {
			t.Reset(time.Hour)
		}
		select {
		case <-stop:
			return
		case <-p.kick:
		case <-t.C:
		}
	}
}
