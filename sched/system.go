package sched

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"damselfly/ipi"
)

// Options configures a System. The zero value is usable on the host.
type Options struct {
	// FIFOSize is the IPI FIFO size per CPU pair (ipi.Options.FIFOSize).
	FIFOSize int
	// Doorbell wakes idle CPUs; default ipi.NewHostDoorbell. The guest passes the LAPIC one.
	Doorbell ipi.Doorbell
	// IdleSpin is how many polling turns an idle CPU makes before it waits on its doorbell.
	IdleSpin int
	// Clock is the time source for timers; default a monotonic clock started by NewSystem.
	Clock Clock
	// SwitchCheck, if set, is called by CPU cpu before every switch to a thread: the guest
	// checks there that the LAPIC id is the one of the CPU (debug builds).
	SwitchCheck func(cpu int)
	// Bind, if set, is called by Start on each CPU's scheduler goroutine before its loop
	// runs: the guest pins the goroutine to that real CPU there (runtime.PinToProc), so
	// one scheduler runs on each CPU. A CPU whose Bind fails runs unbound; Bound reports it.
	Bind func(cpu int) error
}

// System is one machine's set of CPUs.
type System struct {
	ncpu     int
	opts     Options
	cpus     []*CPU
	ipi      *ipi.Queue
	clock    Clock
	manual   bool // the clock moves only when told; idle CPUs wait for a kick, not a timeout
	nextID   atomic.Uint64
	live     atomic.Int64 // threads created and not exited
	created  atomic.Uint64
	stopping atomic.Bool
	wg       sync.WaitGroup // the host goroutines started by Start
	bound    atomic.Int32   // CPUs whose Options.Bind succeeded
	bindErr  atomic.Pointer[error]

	// sleepMasks[slot] has bit c set while CPU c may have a thread sleeping on an ident of
	// that hash slot. Written by each CPU for its own bit (atomic Or/And), read by wakers.
	sleepMasks [sleepSlots]atomic.Uint64
	// wakeupFn is Wakeup's IPI function: the ident it carries does not lead to the System.
	wakeupFn ipi.Func
}

// NewSystem returns a system of ncpu CPUs (1..64). Call Start (host) or CPU(i).Run on each
// CPU (guest) to run it.
func NewSystem(ncpu int, opts Options) *System {
	if ncpu < 1 || ncpu > ipi.MaxCPUs {
		panic(fmt.Sprintf("sched: %d CPUs, want 1..%d", ncpu, ipi.MaxCPUs))
	}
	s := &System{ncpu: ncpu, opts: opts, clock: opts.Clock}
	if s.clock == nil {
		s.clock = NewMonotonicClock()
	}
	s.ipi = ipi.New(ncpu, ipi.Options{FIFOSize: opts.FIFOSize, Doorbell: opts.Doorbell, IdleSpin: opts.IdleSpin})
	s.cpus = make([]*CPU, ncpu)
	for i := range s.cpus {
		s.cpus[i] = &CPU{sys: s, id: i, sleepq: make(map[any]*sleepList), all: make(map[*Thread]struct{})}
	}
	s.wakeupFn = func(cpu int, ident any) { s.cpus[cpu].wakeupLocal(ident) }
	if n, ok := s.clock.(clockNotifier); ok {
		s.manual = true
		n.notify(func() {
			for i := 0; i < s.ncpu; i++ {
				s.ipi.Kick(i)
			}
		})
	}
	return s
}

// NCPU returns the number of CPUs.
func (s *System) NCPU() int { return s.ncpu }

// CPU returns CPU i.
func (s *System) CPU(i int) *CPU { return s.cpus[i] }

// IPI returns the system's IPI queue.
func (s *System) IPI() *ipi.Queue { return s.ipi }

// Clock returns the system's clock.
func (s *System) Clock() Clock { return s.clock }

// Start runs every CPU's scheduler loop on its own goroutine (host).
func (s *System) Start() {
	for _, c := range s.cpus {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if s.opts.Bind != nil {
				if err := s.opts.Bind(c.id); err != nil {
					err = fmt.Errorf("sched: binding cpu %d: %w", c.id, err)
					s.bindErr.CompareAndSwap(nil, &err)
				} else {
					s.bound.Add(1)
				}
			}
			c.Run()
		}()
	}
}

// Bound reports how many CPUs' scheduler goroutines Options.Bind has bound so far, and the
// first binding error. Without Options.Bind it reports 0, nil.
func (s *System) Bound() (int, error) {
	if p := s.bindErr.Load(); p != nil {
		return int(s.bound.Load()), *p
	}
	return int(s.bound.Load()), nil
}

// IdleSpin returns Options.IdleSpin: the polling turns an idle CPU makes before it waits on
// its doorbell.
func (s *System) IdleSpin() int { return s.opts.IdleSpin }

// Stop makes every CPU's loop return at its next turn and waits for the goroutines Start
// created. Threads that have not exited stay suspended (their goroutines are abandoned).
func (s *System) Stop() {
	s.stopping.Store(true)
	for i := 0; i < s.ncpu; i++ {
		s.ipi.Kick(i)
	}
	s.wg.Wait()
}

func (s *System) countThread() {
	s.live.Add(1)
	s.created.Add(1)
}

// GoExternal starts a thread on CPU target from outside the system (a plain goroutine).
func (s *System) GoExternal(target int, o ThreadOpts, fn func(*Thread)) *Thread {
	td := newThread(s, o, fn)
	s.countThread()
	s.ipi.SendExternal(target, adoptIPI, td)
	return td
}

// Run runs fn as a thread on CPU cpu and waits for it to exit. For code outside the system
// (tests, the boot goroutine); fn's panics crash the CPU as in any thread.
func (s *System) Run(cpu int, o ThreadOpts, fn func(*Thread)) {
	<-s.GoExternal(cpu, o, fn).Done()
}

// ScheduleExternal makes td runnable, from outside the system (host device emulation).
func (s *System) ScheduleExternal(td *Thread) {
	s.ipi.SendExternal(td.cpu.Load().id, scheduleIPI, td)
}

// SendMsgExternal sends m to p from outside the system (host device emulation, tests): the
// send runs as SendMsg on the CPU of p's owner (CPU 0 for ports without one) and the reply
// goes to m's reply port as usual.
func (s *System) SendMsgExternal(p *Port, m Message) {
	cpu := 0
	if p.owner != nil {
		cpu = p.owner.cpu.Load().id
	}
	s.ipi.SendExternal(cpu, sendExternalIPI, &externalSend{s, p, m})
}

type externalSend struct {
	s *System
	p *Port
	m Message
}

func sendExternalIPI(cpu int, arg any) {
	e := arg.(*externalSend)
	e.s.cpus[cpu].SendMsg(e.p, e.m)
}

// Live returns the number of threads created and not yet exited.
func (s *System) Live() int64 { return s.live.Load() }

// idleTimeout is how long an idle CPU may wait on its doorbell: until its next timer with a
// real clock, without limit with a manual one (advancing it kicks every CPU). now is the
// reading runTimers took in this turn (no thread ran since), or < 0 if it took none.
func (c *CPU) idleTimeout(now time.Duration) time.Duration {
	if c.timers.len() == 0 || c.sys.manual {
		return -1
	}
	if now < 0 {
		now = c.sys.clock.Now()
	}
	d := c.timers.min().when - now
	if d <= 0 {
		return 0
	}
	return d
}
