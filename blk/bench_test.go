package blk

import (
	"sync/atomic"
	"testing"
	"time"

	"damselfly/vm"
)

func benchDisk(b *testing.B, async bool) *Disk {
	m, _ := NewMemDevice("bench", 64<<20, false)
	m.Async = async
	d := NewDisk(m, Config{Pool: vm.NewPool(4096)})
	b.Cleanup(func() { d.Close() })
	return d
}

func BenchmarkRawRead4K(b *testing.B) { read4K(b, benchDisk(b, false)) }

// read4K reads 4 KiB blocks of d one after another over its first 64 MiB.
func read4K(b *testing.B, d *Disk) {
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	i := 0
	for b.Loop() {
		if err := d.ReadAt(buf, int64(i%16384)*4096); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRawRead4KParallel(b *testing.B) { read4KParallel(b, benchDisk(b, true)) }

// read4KParallel is read4K from GOMAXPROCS goroutines at once.
func read4KParallel(b *testing.B, d *Disk) {
	var n atomic.Int64
	b.SetBytes(4096)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			if err := d.ReadAt(buf, (n.Add(1)%16384)*4096); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// pollMem is a RAM disk whose interrupts always arrive (with Async set,
// requests complete on their own goroutine) and that can also be polled
// (nothing to reap): what vblk is with its interrupt routed.
type pollMem struct {
	*MemDevice
	polls atomic.Int64
}

func (p *pollMem) Poll() { p.polls.Add(1) }

// rescueDisk is benchDisk with the rescue poll on, as the kernel sets it up
// for a disk whose interrupt is routed (kernel/devices arms it every 1 ms
// now; docs/blk.md's figures were taken at 10 ms: the timer fires once per
// interval while requests are in flight, not once per request).
func rescueDisk(b *testing.B) *Disk {
	m, _ := NewMemDevice("bench", 64<<20, false)
	m.Async = true
	d := NewDisk(&pollMem{MemDevice: m}, Config{Pool: vm.NewPool(4096), PollInterval: 10 * time.Millisecond})
	b.Cleanup(func() { d.Close() })
	return d
}

// DoBio with the rescue poll on: the interrupt path's cost per I/O, which
// the rescue mechanism adds to (docs/blk.md, "Rescue poll").
func BenchmarkDoBioRescue4K(b *testing.B) {
	b.ReportAllocs()
	read4K(b, rescueDisk(b))
}

func BenchmarkDoBioRescue4KParallel(b *testing.B) {
	b.ReportAllocs()
	read4KParallel(b, rescueDisk(b))
}

func BenchmarkRawWrite1M(b *testing.B) {
	d := benchDisk(b, false)
	buf := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	i := 0
	for b.Loop() {
		if err := d.WriteAt(buf, int64(i%64)<<20); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The synchronous fast path: the range is valid in the disk's object.
func BenchmarkFastPathRead4K(b *testing.B) {
	d := benchDisk(b, false)
	if _, err := d.Object().ReadAt(make([]byte, 1<<20), 0); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	i := 0
	for b.Loop() {
		if err := d.ReadAt(buf, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// Object reads that miss: pager -> bio -> device thread -> device.
func BenchmarkObjectReadMiss1M(b *testing.B) {
	d := benchDisk(b, false)
	buf := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	i := 0
	for b.Loop() {
		off := int64(i%64) << 20
		d.Object().Discard(off, 1<<20)
		if _, err := d.Object().ReadAt(buf, off); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMerge64(b *testing.B) {
	bios := make([]*Bio, 64)
	for i := range bios {
		bios[i] = &Bio{Op: OpRead, Off: int64(63-i) * 4096, Buf: make([]byte, 4096)}
	}
	lim := Limits{MaxTransfer: 1 << 20, MaxSegments: 256}
	for b.Loop() {
		if len(merge(bios, lim)) != 1 {
			b.Fatal("not merged")
		}
	}
}
