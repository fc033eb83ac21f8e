// Kernel time from the TSC: nanoseconds = offset + (tsc - base) * mult >> 32.
//
// The conversion is fixed point (like Linux's clocksource mult/shift), not
// floating point, so it is exact to well under a part per billion over days
// and cheap enough for runtime.nanotime. The parameters are an immutable
// value swapped atomically, so a later, better frequency estimate can be
// installed while other CPUs read the clock; the new parameters start at the
// current reading, so time never jumps backwards.

package board

import (
	"math/bits"
	"sync/atomic"
)

// clockParams is one immutable conversion.
type clockParams struct {
	base   uint64 // TSC value at which offset was the time
	offset int64  // ns at base
	mult   uint64 // ns per tick, scaled by 2^32
	hz     uint64
}

func (p *clockParams) at(tsc uint64) int64 {
	d := tsc - p.base
	if tsc < p.base { // a CPU whose TSC lags the one that set base
		return p.offset
	}
	hi, lo := bits.Mul64(d, p.mult)
	return p.offset + int64(hi<<32|lo>>32)
}

// Clock converts TSC readings to nanoseconds since an origin. Readers may be
// on any CPU; SetFrequency is called by one goroutine at a time (the board's
// time code owns it). The zero value is usable before anything is known: it
// counts TSC ticks as nanoseconds from TSC 0 (a guessed 1 GHz), which keeps
// the runtime's early clock monotonic until calibration replaces the rate.
type Clock struct {
	p atomic.Pointer[clockParams]
}

func multFor(hz uint64) uint64 {
	// mult = 1e9 * 2^32 / hz, computed in 128 bits.
	// hi:lo = 1e9 << 32; hi < hz for any hz above 0.23 Hz, so Div64 cannot overflow.
	const ns = uint64(1e9)
	hi, lo := ns>>32, ns<<32
	if hi >= hz {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, hz)
	return q
}

// NewClock starts a clock reading 0 at TSC value origin, assuming hz.
func NewClock(origin, hz uint64) *Clock {
	c := &Clock{}
	c.p.Store(&clockParams{base: origin, mult: multFor(hz), hz: hz})
	return c
}

// Nanotime converts a TSC reading.
func (c *Clock) Nanotime(tsc uint64) int64 {
	p := c.p.Load()
	if p == nil {
		return int64(tsc &^ (1 << 63)) // the zero value: a tick is a nanosecond
	}
	return p.at(tsc)
}

// Hz is the frequency in use.
func (c *Clock) Hz() uint64 {
	if p := c.p.Load(); p != nil {
		return p.hz
	}
	return 0
}

// SetFrequency switches to a new frequency from TSC value now on, keeping
// the time continuous at now.
func (c *Clock) SetFrequency(now, hz uint64) {
	if hz == 0 {
		return
	}
	c.p.Store(&clockParams{base: now, offset: c.Nanotime(now), mult: multFor(hz), hz: hz})
}

// StepForward makes the clock read ns at TSC value now, if that is ahead of
// its current reading, and returns how far it moved (0 when ns is not ahead:
// the clock never goes back). The board uses it once at boot to start kernel
// time at the wall-clock time of day, because the runtime on tamago has a
// single clock for monotonic and wall time.
func (c *Clock) StepForward(now uint64, ns int64) int64 {
	p := c.p.Load()
	if p == nil {
		return 0
	}
	cur := p.at(now)
	if ns <= cur {
		return 0
	}
	c.p.Store(&clockParams{base: now, offset: ns, mult: p.mult, hz: p.hz})
	return ns - cur
}
