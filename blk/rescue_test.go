package blk

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// lossyDev is a device whose interrupts are lost: it finishes requests (or
// holds them while hold is set) but only Poll, reaping what is finished,
// completes them; except that when irq is set, requests it picks complete
// at once on their own goroutine, as an interrupt that did arrive.
type lossyDev struct {
	mu    sync.Mutex
	hold  bool
	held  []*Request // submitted, not yet finished by the device
	ready []*Request // finished, waiting to be reaped
	sub   chan *Request
	polls int
	irq   func(n int) bool // request n (from 0) interrupts; nil: none does
	n     int
}

func newLossyDev() *lossyDev { return &lossyDev{sub: make(chan *Request, 256)} }

func (l *lossyDev) Name() string   { return "lossy" }
func (l *lossyDev) Size() int64    { return 1 << 20 }
func (l *lossyDev) ReadOnly() bool { return false }
func (l *lossyDev) Limits() Limits {
	return Limits{SectorSize: 512, MaxTransfer: 1 << 20, MaxSegments: 64, QueueDepth: 64, Flush: true}
}

func (l *lossyDev) Submit(r *Request) {
	l.mu.Lock()
	n := l.n
	l.n++
	if l.irq != nil && l.irq(n) {
		l.mu.Unlock()
		go r.Complete(nil)
		l.sub <- r
		return
	}
	if l.hold {
		l.held = append(l.held, r)
	} else {
		l.ready = append(l.ready, r)
	}
	l.mu.Unlock()
	l.sub <- r
}

// release lets the device finish what it holds (still no interrupt).
func (l *lossyDev) release() {
	l.mu.Lock()
	l.ready = append(l.ready, l.held...)
	l.held = nil
	l.hold = false
	l.mu.Unlock()
}

func (l *lossyDev) Poll() {
	l.mu.Lock()
	l.polls++
	rs := l.ready
	l.ready = nil
	l.mu.Unlock()
	for _, r := range rs {
		r.Complete(nil)
	}
}

// handTimer is a rescue timer the test fires; handTimers counts how many a
// disk made.
type handTimers struct {
	mu      sync.Mutex
	made    int
	f       func()
	pending bool
	resets  int
}

func (h *handTimers) new(d time.Duration, f func()) RescueTimer {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.made++
	h.f = f
	h.pending = true
	return h
}

func (h *handTimers) Reset(time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	was := h.pending
	if was {
		panic("Reset of a pending rescue timer")
	}
	h.pending = true
	h.resets++
	return was
}

func (h *handTimers) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.made
}

func (h *handTimers) isPending() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pending
}

// fire runs the callback if the timer is pending; it reports whether it did.
func (h *handTimers) fire() bool {
	h.mu.Lock()
	f, ok := h.f, h.pending
	h.pending = false
	h.mu.Unlock()
	if ok {
		f()
	}
	return ok
}

// A device that loses interrupts, all of them or one in five, still
// completes every request, raw and asynchronous, through the disk's rescue
// poll, with one real timer.
func TestRescueLostInterrupts(t *testing.T) {
	for _, tc := range []struct {
		name string
		irq  func(n int) bool
	}{
		{"all lost", nil},
		{"one in five lost", func(n int) bool { return n%5 != 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) { testRescueLost(t, tc.irq) })
	}
}

func testRescueLost(t *testing.T, irq func(int) bool) {
	dev := newLossyDev()
	dev.irq = irq
	d := NewDisk(dev, Config{PollInterval: time.Millisecond})
	defer d.Close()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every other 4 KiB block: no two bios merge.
			if err := d.ReadAt(make([]byte, 4096), int64(i)*8192); err != nil {
				t.Error(err)
			}
		}()
	}
	done := make(chan error, 1)
	d.Strategy(&Bio{Op: OpWrite, Off: 1 << 19, Buf: make([]byte, 512), Done: func(b *Bio) { done <- b.Err }})
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	if st.PollTimers.Load() != 1 {
		t.Fatalf("%d rescue timers made, want 1", st.PollTimers.Load())
	}
	if st.Polls.Load() == 0 {
		t.Fatal("requests completed without a poll on a device that never interrupts")
	}
}

// Many requests in flight share one timer; it re-arms while any remain,
// lapses once none do, and is re-armed (not remade) by the next request.
func TestRescueOneTimer(t *testing.T) {
	dev := newLossyDev()
	dev.hold = true
	var h handTimers
	d := NewDisk(dev, Config{PollInterval: time.Second, NewTimer: h.new})
	defer d.Close()

	const n = 32
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- d.ReadAt(make([]byte, 512), int64(i)*4096) }()
	}
	for range n {
		<-dev.sub
	}
	if h.count() != 1 || !h.isPending() {
		t.Fatalf("%d requests in flight: %d timers made, pending %v; want 1, true", n, h.count(), h.isPending())
	}
	// The device has finished nothing: the poll reaps nothing and the
	// timer re-arms.
	h.fire()
	if !h.isPending() || d.Stats().Polls.Load() != 1 {
		t.Fatalf("after an empty poll: pending %v, polls %d", h.isPending(), d.Stats().Polls.Load())
	}
	select {
	case err := <-errs:
		t.Fatalf("a request ended before the device finished it: %v", err)
	default:
	}
	// The device finishes them; its interrupt is lost; the next tick
	// completes all of them and lets the timer lapse.
	dev.release()
	h.fire()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if h.isPending() {
		t.Fatal("timer re-armed with nothing in flight")
	}
	// The next request re-arms the same timer.
	go func() { errs <- d.WriteAt(make([]byte, 512), 0) }()
	<-dev.sub
	if !h.isPending() {
		t.Fatal("request in flight, timer not armed")
	}
	h.fire()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	if h.count() != 1 || st.PollTimers.Load() != 1 || st.PollArms.Load() != 1 {
		t.Fatalf("timers made %d (stat %d), re-armed %d; want 1, 1, 1", h.count(), st.PollTimers.Load(), st.PollArms.Load())
	}
	dev.mu.Lock()
	polls := dev.polls
	dev.mu.Unlock()
	if polls != 3 {
		t.Fatalf("%d polls, want 3 (one per tick with requests in flight)", polls)
	}
}

// A tick that finds nothing in flight (the interrupt did arrive) does not
// poll and lets the timer lapse.
func TestRescueIdleTickDoesNotPoll(t *testing.T) {
	m, _ := NewMemDevice("md", 1<<20, false)
	dev := &pollMem{MemDevice: m}
	var h handTimers
	d := NewDisk(dev, Config{PollInterval: time.Second, NewTimer: h.new})
	defer d.Close()
	for i := range 3 {
		if err := d.WriteAt(make([]byte, 512), int64(i)*4096); err != nil {
			t.Fatal(err)
		}
	}
	// A waiter returns before its request's slot is freed: Close waits
	// until nothing is in flight.
	d.Close()
	if h.count() != 1 || !h.isPending() {
		t.Fatalf("timers made %d, pending %v; want 1, true (it lapses at its tick, not at completion)", h.count(), h.isPending())
	}
	h.fire()
	if h.isPending() || dev.polls.Load() != 0 || d.Stats().Polls.Load() != 0 {
		t.Fatalf("idle tick: pending %v, device polls %d; want false, 0", h.isPending(), dev.polls.Load())
	}
}

// A disk without a poll interval, or whose driver cannot be polled, makes
// no timer.
func TestRescueOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		drv  Driver
		poll time.Duration
	}{
		{"no interval", &pollMem{MemDevice: mustMem(t)}, 0},
		{"not a poller", mustMem(t), time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h handTimers
			d := NewDisk(tc.drv, Config{PollInterval: tc.poll, NewTimer: h.new})
			defer d.Close()
			if err := d.WriteAt(make([]byte, 512), 0); err != nil {
				t.Fatal(err)
			}
			if h.count() != 0 || d.Stats().PollTimers.Load() != 0 {
				t.Fatalf("%d timers made", h.count())
			}
		})
	}
}

// A device that fails a request reaped by the rescue poll: the error
// reaches the waiter with the device name.
func TestRescuePollError(t *testing.T) {
	m := mustMem(t)
	m.FailAt = 4096
	dev := &lateMem{MemDevice: m}
	d := NewDisk(dev, Config{PollInterval: time.Millisecond})
	defer d.Close()
	err := d.ReadAt(make([]byte, 4096), 4096)
	var be *Error
	if !errors.As(err, &be) || !errors.Is(err, ErrIO) || be.Dev != "md" {
		t.Fatalf("got %v, want a *blk.Error for md wrapping ErrIO", err)
	}
}

func mustMem(t testing.TB) *MemDevice {
	m, err := NewMemDevice("md", 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lateMem is a RAM disk that does each request only when polled.
type lateMem struct {
	*MemDevice
	mu      sync.Mutex
	pending []*Request
}

func (l *lateMem) Submit(r *Request) {
	l.mu.Lock()
	l.pending = append(l.pending, r)
	l.mu.Unlock()
}

func (l *lateMem) Poll() {
	l.mu.Lock()
	rs := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, r := range rs {
		l.MemDevice.do(r)
	}
}
