package vm

import (
	"sync/atomic"
	"testing"
)

func benchObject(b *testing.B, pages int) *Object {
	pg := newMemPager(pages * PageSize)
	o := NewObject("bench", pg, NewPool(pages))
	if _, err := o.ReadAt(make([]byte, pages*PageSize), 0); err != nil {
		b.Fatal(err)
	}
	return o
}

func BenchmarkReadAtCached4K(b *testing.B) {
	o := benchObject(b, 256)
	buf := make([]byte, PageSize)
	b.SetBytes(PageSize)
	i := 0
	for b.Loop() {
		if _, err := o.ReadAt(buf, int64(i%256)*PageSize); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkReadAtCached1M(b *testing.B) {
	o := benchObject(b, 256)
	buf := make([]byte, 256*PageSize)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := o.ReadAt(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteAtCached4K(b *testing.B) {
	o := benchObject(b, 256)
	buf := make([]byte, PageSize)
	b.SetBytes(PageSize)
	i := 0
	for b.Loop() {
		if _, err := o.WriteAt(buf, int64(i%256)*PageSize); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkReadAtCached4KParallel(b *testing.B) {
	o := benchObject(b, 256)
	var next atomic.Int64
	b.SetBytes(PageSize)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, PageSize)
		for pb.Next() {
			i := next.Add(1)
			if _, err := o.ReadAt(buf, (i%256)*PageSize); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkWriteAtDisjoint4KParallel(b *testing.B) {
	o := benchObject(b, 256)
	var next atomic.Int64
	b.SetBytes(PageSize)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, PageSize)
		for pb.Next() {
			i := next.Add(1)
			if _, err := o.WriteAt(buf, (i%256)*PageSize); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Reads through a pool smaller than the working set: every read misses and
// evicts.
func BenchmarkReadAtEvicting4K(b *testing.B) {
	pg := newMemPager(1024 * PageSize)
	o := NewObject("bench", pg, NewPool(64))
	buf := make([]byte, PageSize)
	b.SetBytes(PageSize)
	i := 0
	for b.Loop() {
		if _, err := o.ReadAt(buf, int64(i%1024)*PageSize); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
