package sched

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time (user+system) the test process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports cpu-ns/op next to ns/op. On a machine shared with other work, wall time
// per op mostly measures how much of a core the process got (and the kernel gives a
// process with two busy threads two shares); CPU time per op is what an operation costs.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter { return &cpuMeter{b: b, start: processCPU()} }

func (m *cpuMeter) stop() {
	d := processCPU() - m.start
	m.b.ReportMetric(float64(d.Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}
