package kernel

import (
	"math"
	"testing"
)

func TestGCPolicy(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		gogc    int
		heap    uint64
		percent int
		limit   int64
	}{
		{0, 480 * mib, DefaultGOGC, 420 * mib},
		{250, 480 * mib, 250, 420 * mib},
		{-1, 64 * mib, -1, 56 * mib}, // off: only the limit triggers collections
		{0, 0, DefaultGOGC, math.MaxInt64},
		{100, math.MaxUint64, 100, math.MaxInt64},
	} {
		p, l := GCPolicy(tc.gogc, tc.heap)
		if p != tc.percent || l != tc.limit {
			t.Errorf("GCPolicy(%d, %d) = %d, %d; want %d, %d", tc.gogc, tc.heap, p, l, tc.percent, tc.limit)
		}
	}
}
