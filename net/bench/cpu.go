package bench

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time this process has used so far, all
// threads together: both stacks, the benchmark goroutines and the GC. The
// figures divide bytes by it to get throughput per core, which holds up on
// a shared machine far better than wall-clock rates do.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
