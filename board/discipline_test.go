package board

import (
	"math"
	"math/rand"
	"testing"
)

// pitAt is an up-counting 16-bit PIT reading at true time ns.
type simRef struct{ ns *float64 }

func (r simRef) Read() uint64 { return uint64(*r.ns*PITHz/1e9) & 0xffff }
func (simRef) Hz() uint64     { return PITHz }
func (simRef) Bits() uint     { return 16 }
func (simRef) Name() string   { return "sim pit" }

// TestDisciplineFastTSC models TCG with thread=multi: the TSC advances at
// its calibrated rate plus forward jumps that make it run about 10% fast.
// Sampled every 10 ms, with some 80-300 ms stalls (lost PIT wraps), kernel
// time must stay within 1% of true time over a minute, and never go back.
func TestDisciplineFastTSC(t *testing.T) {
	for _, fast := range []float64{0, 0.03, 0.10, 0.25} {
		rng := rand.New(rand.NewSource(1))
		const hz = 2.1e9
		trueNs := 0.5e9
		tsc := trueNs * hz / 1e9
		clk := NewClock(0, hz)
		d := &Discipline{Clock: clk, Ref: simRef{&trueNs}}
		d.Sample(uint64(tsc), simRef{&trueNs}.Read())
		k0, t0 := clk.Nanotime(uint64(tsc)), trueNs
		last := k0
		worst := 0.0
		for trueNs-t0 < 60e9 {
			step := 10e6
			if rng.Intn(100) == 0 {
				step = 80e6 + rng.Float64()*220e6 // descheduled
			}
			// advance in small pieces, reading the clock in between
			for s := 0.0; s < step; s += 1e6 {
				trueNs += 1e6
				tsc += 1e6 * hz / 1e9 * (1 + fast*2*rng.Float64())
				now := clk.Nanotime(uint64(tsc))
				if now < last {
					t.Fatalf("fast %.2f: time went back from %d to %d", fast, last, now)
				}
				last = now
			}
			d.Sample(uint64(tsc), simRef{&trueNs}.Read())
			elapsed := trueNs - t0
			if elapsed > 5e9 {
				rel := math.Abs(float64(clk.Nanotime(uint64(tsc))-k0)-elapsed) / elapsed
				worst = math.Max(worst, rel)
			}
		}
		if worst > 0.01 {
			t.Errorf("TSC %.0f%% fast: kernel time off by up to %.3f%% (max sample error %d ns, lost wraps %d)",
				fast*100, worst*100, d.MaxErrorNs, d.LostWraps)
		}
		if d.LostWraps == 0 {
			t.Errorf("fast %.2f: stalls lost no wraps: the test does not exercise recovery", fast)
		}
	}
}

func TestDisciplineIgnoresBadSamples(t *testing.T) {
	ns := 1e9
	clk := NewClock(0, 1e9)
	d := &Discipline{Clock: clk, Ref: simRef{&ns}}
	d.Sample(1e9, simRef{&ns}.Read())
	before := clk.Hz()
	d.Sample(1e9, simRef{&ns}.Read()) // TSC did not move
	d.Sample(5e8, simRef{&ns}.Read()) // TSC went back
	if clk.Hz() != before || d.Samples != 0 {
		t.Errorf("bad samples changed the clock: %d Hz, %d samples", clk.Hz(), d.Samples)
	}
}
