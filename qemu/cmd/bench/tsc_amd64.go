package main

import (
	"sort"
	"time"
)

func rdtsc() uint64

// hostTSCkHz measures the host's time-stamp counter against the monotonic
// clock: three 100 ms windows, the median. Under TCG the guest's RDTSC
// reads the host's counter, so this is the guest's TSC rate too.
func hostTSCkHz() uint64 {
	var k []uint64
	for i := 0; i < 3; i++ {
		t0, c0 := time.Now(), rdtsc()
		time.Sleep(100 * time.Millisecond)
		c1, t1 := rdtsc(), time.Now()
		if us := t1.Sub(t0).Microseconds(); us > 0 && c1 > c0 {
			k = append(k, (c1-c0)*1000/uint64(us))
		}
	}
	if len(k) == 0 {
		return 0
	}
	sort.Slice(k, func(i, j int) bool { return k[i] < k[j] })
	return k[len(k)/2]
}
