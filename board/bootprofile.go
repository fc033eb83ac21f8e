// Boot profile: TSC stamps taken at each boot phase, printed as a timeline.
//
// The stamps are raw TSC values because the first ones are taken before the
// TSC rate is known (runtime start, ACPI, the calibration itself); they are
// converted once the rate is. Marking must work on any CPU, from package
// init, before the scheduler runs other goroutines and without allocating,
// so a Profile is a fixed array filled through an atomic index: a mark past
// the end is counted, not stored.

package board

import (
	"fmt"
	"io"
	"sync/atomic"
)

// ProfileMarks is how many marks a Profile holds.
const ProfileMarks = 128

// Mark is one stamp: what had just finished (or started) and the TSC then.
type Mark struct {
	Name string
	TSC  uint64
}

// Profile collects Marks. The zero value is ready; it is safe for
// concurrent use (each mark takes its own slot).
type Profile struct {
	marks   [ProfileMarks]Mark
	done    [ProfileMarks]atomic.Bool // slot i is written
	next    atomic.Int32
	Dropped atomic.Int32 // marks past the end
}

// Mark records name at tsc.
func (p *Profile) Mark(name string, tsc uint64) {
	i := p.next.Add(1) - 1
	if i >= ProfileMarks {
		p.Dropped.Add(1)
		return
	}
	p.marks[i] = Mark{Name: name, TSC: tsc}
	p.done[i].Store(true)
}

// Marks returns the marks written so far, in the order their slots were
// taken (a mark whose writer is still storing it is left out).
func (p *Profile) Marks() []Mark {
	n := min(int(p.next.Load()), ProfileMarks)
	var out []Mark
	for i := 0; i < n; i++ {
		if p.done[i].Load() {
			out = append(out, p.marks[i])
		}
	}
	return out
}

// WriteProfile prints marks as a timeline relative to entry (the TSC at the
// kernel's entry), at hz ticks per second: one line per mark with the time
// since entry and since the previous mark, in milliseconds, under prefix.
// Marks taken on different CPUs are ordered by TSC (the TSCs of a VM's
// vCPUs agree closely enough for milliseconds). A mark before entry, which
// a broken TSC could give, shows as negative rather than wrapping.
func WriteProfile(w io.Writer, prefix string, marks []Mark, entry, hz uint64) error {
	if hz == 0 {
		return fmt.Errorf("boot profile: TSC rate unknown")
	}
	sorted := append([]Mark(nil), marks...)
	// insertion sort: a few dozen marks, nearly in order already
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].TSC < sorted[j-1].TSC; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	ms := func(from, to uint64) float64 {
		if to >= from {
			return float64(to-from) * 1e3 / float64(hz)
		}
		return -float64(from-to) * 1e3 / float64(hz)
	}
	prev := entry
	if _, err := fmt.Fprintf(w, "%s%10s %9s  %s\n", prefix, "at_ms", "delta_ms", "phase"); err != nil {
		return err
	}
	for _, m := range sorted {
		if _, err := fmt.Fprintf(w, "%s%10.3f %9.3f  %s\n", prefix, ms(entry, m.TSC), ms(prev, m.TSC), m.Name); err != nil {
			return err
		}
		prev = m.TSC
	}
	return nil
}
