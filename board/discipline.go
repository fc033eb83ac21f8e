// Disciplining the TSC clock against a reference counter.
//
// Under QEMU's TCG the guest TSC is the host's TSC plus an offset that QEMU
// only ever moves forward: when a vCPU thread on one host core reads a value
// below the last one handed out (host cores' TSCs differ slightly, and with
// thread=multi every vCPU is a thread), QEMU bumps the offset to keep the
// TSC monotonic. The more vCPUs read the TSC, the faster it runs: measured
// here, 7-11% fast with -smp 8 -accel tcg,thread=multi. A one-time
// calibration cannot fix that, so a timekeeper samples a reference clock
// that QEMU derives from the host's monotonic clock (the i8254 PIT) every
// few milliseconds and steers the TSC clock's rate so kernel time follows
// the reference: the error at each sample is slewed out over SlewHorizon,
// never by stepping backwards.
//
// The PIT wraps every 55 ms; a sample that comes later than that (the vCPU
// was descheduled) has lost wraps, which the TSC's elapsed time (accurate to
// far better than half a wrap over such a gap) counts back.

package board

import "math"

// SlewHorizon is the time over which a sampled error is corrected.
const SlewHorizon = 200e6 // ns

// maxSlew bounds the rate correction (as a fraction of the estimated rate).
const maxSlew = 0.5

// Discipline keeps a Clock on a reference counter. Sample is called by one
// goroutine (the board's timekeeper); the Clock is read by everyone.
type Discipline struct {
	Clock *Clock
	Ref   RefCounter

	started bool
	lastRef uint64  // raw reference reading at the last sample
	lastTSC uint64  // TSC at the last sample
	refNs   float64 // reference time at the last sample (ns since Start)
	baseNs  int64   // kernel time at Start
	hz      float64 // smoothed TSC rate against the reference

	// Counters for the status page.
	Samples, LostWraps uint64
	MaxErrorNs         int64 // largest |kernel - reference| seen at a sample
}

// Start anchors the reference timeline at the current kernel time.
func (d *Discipline) Start(tsc, ref uint64) {
	d.started = true
	d.lastRef, d.lastTSC = ref, tsc
	d.baseNs = d.Clock.Nanotime(tsc)
	d.refNs = 0
	d.hz = float64(d.Clock.Hz())
}

// RefNow is the reference time (kernel-time units) at the last sample.
func (d *Discipline) RefNow() int64 { return d.baseNs + int64(d.refNs) }

// Sample takes a (TSC, reference) pair read together and steers the clock.
func (d *Discipline) Sample(tsc, ref uint64) {
	if !d.started {
		d.Start(tsc, ref)
		return
	}
	if tsc <= d.lastTSC {
		return
	}
	mask := uint64(1)<<d.Ref.Bits() - 1
	period := float64(mask+1) * 1e9 / float64(d.Ref.Hz()) // ns per wrap
	dt := tsc - d.lastTSC
	ticks := (ref - d.lastRef) & mask
	refDelta := float64(ticks) * 1e9 / float64(d.Ref.Hz())
	// Wraps lost in a long gap: the TSC says how long it was.
	tscDelta := float64(dt) * 1e9 / d.hz
	if lost := math.Round((tscDelta - refDelta) / period); lost > 0 {
		refDelta += lost * period
		d.LostWraps += uint64(lost)
	}
	if refDelta <= 0 {
		return
	}
	d.Samples++
	d.refNs += refDelta
	d.lastRef, d.lastTSC = ref, tsc

	// Rate over this interval, smoothed: a long interval weighs more.
	measured := float64(dt) * 1e9 / refDelta
	w := math.Min(refDelta/SlewHorizon, 1)
	d.hz += (measured - d.hz) * w

	// Error now, slewed out over the horizon: a clock ahead (err > 0)
	// must run slower, i.e. count more ticks per second.
	errNs := float64(d.Clock.Nanotime(tsc) - d.RefNow())
	if e := int64(math.Abs(errNs)); e > d.MaxErrorNs {
		d.MaxErrorNs = e
	}
	f := 1 + errNs/SlewHorizon
	f = math.Max(1-maxSlew, math.Min(1+maxSlew, f))
	hz := d.hz * f
	if hz < 1 || hz > math.MaxUint64/2 {
		return
	}
	d.Clock.SetFrequency(tsc, uint64(hz))
}
