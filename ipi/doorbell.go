package ipi

import (
	"runtime"
	"time"
)

// Doorbell wakes a CPU that stopped polling and is waiting for work, and is how a CPU waits.
// The host implementation is HostDoorbell; in the guest Ring is a LAPIC fixed-vector IPI and
// Wait is HLT with interrupts enabled (the board package provides it).
type Doorbell interface {
	// Ring makes a current or the next Wait on cpu return. It never blocks.
	Ring(cpu int)
	// Wait blocks cpu until Ring(cpu) or until timeout has passed; timeout < 0 waits without
	// limit. A Ring that happened after the previous Wait returned is not lost.
	Wait(cpu int, timeout time.Duration)
	// Relax is called on each turn of a spin-wait loop (FIFO full, completion wait, cpusync).
	Relax()
}

// HostDoorbell implements Doorbell for host tests: each CPU waits on a channel of capacity
// one, which behaves like a futex word (a ring with nobody waiting is remembered once).
type HostDoorbell struct {
	bells []chan struct{}
	// timers[cpu] is the timer of cpu's timed waits, made on its first one and reused
	// (Reset/Stop): a CPU with LWKT timers pending waits with a timeout every time it
	// idles, and a new timer per wait was an allocation and a heap insert each time.
	// Only cpu's own Wait touches timers[cpu].
	timers []*time.Timer
}

// NewHostDoorbell returns a doorbell for ncpu CPUs.
func NewHostDoorbell(ncpu int) *HostDoorbell {
	d := &HostDoorbell{bells: make([]chan struct{}, ncpu), timers: make([]*time.Timer, ncpu)}
	for i := range d.bells {
		d.bells[i] = make(chan struct{}, 1)
	}
	return d
}

// Ring implements Doorbell.
func (d *HostDoorbell) Ring(cpu int) {
	select {
	case d.bells[cpu] <- struct{}{}:
	default: // already rung and not yet consumed
	}
}

// Wait implements Doorbell.
func (d *HostDoorbell) Wait(cpu int, timeout time.Duration) {
	if timeout < 0 {
		<-d.bells[cpu]
		return
	}
	if timeout == 0 {
		select {
		case <-d.bells[cpu]:
		default:
		}
		return
	}
	t := d.timers[cpu]
	if t == nil {
		t = time.NewTimer(timeout)
		d.timers[cpu] = t
	} else {
		// Since Go 1.23 Reset and Stop leave no stale value in t.C.
		t.Reset(timeout)
	}
	select {
	case <-d.bells[cpu]:
	case <-t.C:
	}
	t.Stop()
}

// Relax implements Doorbell. On the host the CPUs are goroutines sharing fewer real cores,
// so a spinning CPU must let the one it waits for run.
func (d *HostDoorbell) Relax() { runtime.Gosched() }
