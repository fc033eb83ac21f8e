package bench

import "testing"

// Each benchmark has one sub-benchmark per stack, so the pairs sort
// together: BenchmarkBulk/damselfly-1thread, .../gvisor.
func each(b *testing.B, w func(*testing.B, Pair)) {
	for _, s := range Stacks {
		b.Run(s.Name, func(b *testing.B) { Run(b, s, w) })
	}
}

func BenchmarkBulk(b *testing.B)    { each(b, Bulk) }
func BenchmarkConnect(b *testing.B) { each(b, Connect) }
func BenchmarkRR(b *testing.B)      { each(b, RR) }
