package blk

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// BenchResult is one throughput figure of Bench.
type BenchResult struct {
	Name    string
	Bytes   int64
	Elapsed time.Duration
}

// MBps is the throughput in 10^6 bytes per second.
func (r BenchResult) MBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Elapsed.Seconds() / 1e6
}

func (r BenchResult) String() string {
	return fmt.Sprintf("%s: %.1f MB/s (%d bytes in %v)", r.Name, r.MBps(), r.Bytes, r.Elapsed)
}

// Bench is the guest's `selftest=blkbench`: raw (uncached) sequential 1 MiB
// and random 4 KiB reads and writes over the first total bytes of the disk,
// with threads requests in flight. It overwrites that region (with its own
// contents for the sequential pass, zeros for the random one): run it on a
// scratch disk. now is the clock (injected: the kernel passes its
// monotonic clock).
func Bench(d *Disk, total int64, threads int, rng *rand.Rand, now func() time.Time) ([]BenchResult, error) {
	total = min(total, d.Size()) &^ (1<<20 - 1)
	if total < 1<<20 {
		return nil, fmt.Errorf("blk: bench %s: disk smaller than 1 MiB", d.Name())
	}
	if threads < 1 {
		threads = 1
	}
	const big, small = 1 << 20, 4 << 10
	nbig, nsmall := int(total/big), int(total/small)
	offs := make([]int64, nsmall)
	for i := range offs {
		offs[i] = rng.Int64N(total/small) * small
	}
	bufs := make([][]byte, threads)
	for i := range bufs {
		bufs[i] = make([]byte, big)
	}
	run := func(name string, count int, size int64, fn func(buf []byte, k int) error) (BenchResult, error) {
		start := now()
		err := parallel(threads, count, func(w, k int) error { return fn(bufs[w], k) })
		return BenchResult{Name: name, Bytes: int64(count) * size, Elapsed: now().Sub(start)}, err
	}
	var res []BenchResult
	steps := []struct {
		name  string
		count int
		size  int64
		fn    func(buf []byte, k int) error
	}{
		{"seq read 1M", nbig, big, func(b []byte, k int) error { return d.ReadAt(b, int64(k)*big) }},
		{"seq write 1M", nbig, big, func(b []byte, k int) error { return d.WriteAt(b, int64(k)*big) }},
		{"rand read 4K", nsmall, small, func(b []byte, k int) error { return d.ReadAt(b[:small], offs[k]) }},
		{"rand write 4K", nsmall, small, func(b []byte, k int) error { return d.WriteAt(b[:small], offs[k]) }},
	}
	for _, s := range steps {
		r, err := run(s.name, s.count, s.size, s.fn)
		if err != nil {
			return res, fmt.Errorf("blk: bench %s: %s: %w", d.Name(), s.name, err)
		}
		res = append(res, r)
	}
	return res, nil
}

// RunBench runs Bench and prints one line per figure:
// "blkbench: <name>: <MB/s> MB/s (<bytes> bytes in <duration>)".
func RunBench(w io.Writer, d *Disk, total int64, threads int, rng *rand.Rand, now func() time.Time) error {
	res, err := Bench(d, total, threads, rng, now)
	for _, r := range res {
		fmt.Fprintf(w, "blkbench: %v\n", r)
	}
	if err != nil {
		fmt.Fprintf(w, "blkbench: FAIL: %v\n", err)
	}
	return err
}
