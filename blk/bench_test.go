package blk

import (
	"sync/atomic"
	"testing"

	"damselfly/vm"
)

func benchDisk(b *testing.B, async bool) *Disk {
	m, _ := NewMemDevice("bench", 64<<20, false)
	m.Async = async
	d := NewDisk(m, Config{Pool: vm.NewPool(4096)})
	b.Cleanup(func() { d.Close() })
	return d
}

func BenchmarkRawRead4K(b *testing.B) {
	d := benchDisk(b, false)
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

func BenchmarkRawRead4KParallel(b *testing.B) {
	d := benchDisk(b, true)
	var n atomic.Int64
	b.SetBytes(4096)
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
