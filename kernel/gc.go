package kernel

import "math"

// DefaultGOGC is the garbage collector's heap growth percent when the
// command line has no gogc=. Go's own default, 100 with a 4 MiB floor on the
// heap goal, suits a process that shares a machine; a unikernel's heap is
// the machine's memory, which nothing else uses. At 100 the kernel (about
// 1 MB live after boot) collected during the first bulk TCP connection,
// whose buffers grow to a few MB, and that connection ran 30% slower under
// TCG (docs/net.md). At 400 it collects when the heap reaches five times
// the live data, and the soft memory limit (GCPolicy) makes it collect
// harder before the heap outgrows memory.
const DefaultGOGC = 400

// GCPolicy returns the GC percent (runtime/debug.SetGCPercent) and the soft
// memory limit (SetMemoryLimit) for the command line's gogc value (0: the
// default; -1: off) and a heap region of heapBytes (0: unknown, no limit).
// The limit is 7/8 of the heap region: the runtime's own metadata, stacks
// and fragmentation need the rest.
func GCPolicy(gogc int, heapBytes uint64) (percent int, limit int64) {
	percent = gogc
	if percent == 0 {
		percent = DefaultGOGC
	}
	if heapBytes == 0 || heapBytes > math.MaxInt64 {
		return percent, math.MaxInt64
	}
	return percent, int64(heapBytes - heapBytes/8)
}
