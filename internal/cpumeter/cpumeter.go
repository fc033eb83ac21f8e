// Package cpumeter reports the process CPU time per benchmark operation
// (cpu-ns/op) next to Go's ns/op. On a machine shared with other work, wall
// time per op mostly measures how much of a core the process got (and the
// kernel gives a process with two busy threads two shares); CPU time per op
// is what an operation costs.
package cpumeter

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU returns the CPU time (user+system) the process has used so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Meter measures one benchmark loop.
type Meter struct {
	b     *testing.B
	start time.Duration
}

// Start begins measuring b's loop.
func Start(b *testing.B) *Meter { return &Meter{b: b, start: ProcessCPU()} }

// Stop reports cpu-ns/op for the loop since Start.
func (m *Meter) Stop() {
	d := ProcessCPU() - m.start
	m.b.ReportMetric(float64(d.Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}
