package blk

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"damselfly/vm"
)

func newMemDisk(t testing.TB, size int64, ro bool) (*Disk, *MemDevice) {
	t.Helper()
	m, err := NewMemDevice("md0", size, ro)
	if err != nil {
		t.Fatal(err)
	}
	m.Async = true
	d := NewDisk(m, Config{Pool: vm.NewPool(64)})
	t.Cleanup(func() { d.Close() })
	return d, m
}

func TestMerge(t *testing.T) {
	buf := func(n int) []byte { return make([]byte, n) }
	lim := Limits{MaxTransfer: 4096, MaxSegments: 3}
	tests := []struct {
		name string
		bios []*Bio
		want string // requests as op@off+len/segs
	}{
		{"adjacent reads", []*Bio{{Op: OpRead, Off: 1024, Buf: buf(512)}, {Op: OpRead, Off: 512, Buf: buf(512)}, {Op: OpRead, Off: 0, Buf: buf(512)}},
			"read@0+1536/3"},
		{"gap", []*Bio{{Op: OpRead, Off: 0, Buf: buf(512)}, {Op: OpRead, Off: 1024, Buf: buf(512)}},
			"read@0+512/1 read@1024+512/1"},
		{"ops differ", []*Bio{{Op: OpRead, Off: 0, Buf: buf(512)}, {Op: OpWrite, Off: 512, Buf: buf(512)}},
			"read@0+512/1 write@512+512/1"},
		{"segment limit", []*Bio{{Op: OpWrite, Off: 0, Buf: buf(512)}, {Op: OpWrite, Off: 512, Buf: buf(512)}, {Op: OpWrite, Off: 1024, Buf: buf(512)}, {Op: OpWrite, Off: 1536, Buf: buf(512)}},
			"write@0+1536/3 write@1536+512/1"},
		{"transfer limit", []*Bio{{Op: OpRead, Off: 0, Buf: buf(4096)}, {Op: OpRead, Off: 4096, Buf: buf(512)}},
			"read@0+4096/1 read@4096+512/1"},
		{"overlap not merged", []*Bio{{Op: OpRead, Off: 0, Buf: buf(1024)}, {Op: OpRead, Off: 512, Buf: buf(1024)}},
			"read@0+1024/1 read@512+1024/1"},
		{"discards not merged", []*Bio{{Op: OpDiscard, Off: 0, Len: 512}, {Op: OpDiscard, Off: 512, Len: 512}},
			"discard@0+512/0 discard@512+512/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range merge(tc.bios, lim) {
				got = append(got, fmt.Sprintf("%v@%d+%d/%d", r.Op, r.Off, r.Len, len(r.Segs)))
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("got %s want %s", s, tc.want)
			}
		})
	}
}

func TestDiskErrors(t *testing.T) {
	d, m := newMemDisk(t, 1<<20, false)
	tests := []struct {
		name string
		bio  *Bio
		want error
	}{
		{"beyond end", &Bio{Op: OpRead, Off: 1 << 20, Buf: make([]byte, 512)}, ErrBeyondEnd},
		{"straddles end", &Bio{Op: OpWrite, Off: 1<<20 - 512, Buf: make([]byte, 1024)}, ErrBeyondEnd},
		{"negative", &Bio{Op: OpRead, Off: -512, Buf: make([]byte, 512)}, ErrBeyondEnd},
		{"misaligned", &Bio{Op: OpRead, Off: 100, Buf: make([]byte, 512)}, ErrMisaligned},
		{"bad op", &Bio{Op: Op(9), Off: 0}, ErrUnsupported},
	}
	for _, tc := range tests {
		err := d.DoBio(tc.bio)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		var be *Error
		if !errors.As(err, &be) || be.Dev != "md0" || be.Off != tc.bio.Off {
			t.Fatalf("%s: error %v lacks device/offset", tc.name, err)
		}
	}
	m.FailAt = 4096 + 7
	err := d.ReadAt(make([]byte, 8192), 4096)
	if !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "md0: read at offset 4096") {
		t.Fatalf("I/O error: %v", err)
	}
	if _, err := d.Object().ReadAt(make([]byte, 10), 4096+100); !errors.Is(err, ErrIO) {
		t.Fatalf("I/O error through object: %v", err)
	}
	m.FailAt = -1

	ro, _ := newMemDisk(t, 1<<20, true)
	if err := ro.WriteAt(make([]byte, 512), 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only raw write: %v", err)
	}
	if _, err := ro.Object().WriteAt([]byte{1}, 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only object write: %v", err)
	}
	if err := ro.DoBio(&Bio{Op: OpDiscard, Off: 0, Len: 512}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only discard: %v", err)
	}
}

func TestDiskObjectAndFastPath(t *testing.T) {
	d, m := newMemDisk(t, 1<<20+512, false)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range m.data {
		m.data[i] = byte(rng.Uint32())
	}
	want := bytes.Clone(m.data)
	obj := d.Object()
	if obj.Size() != 1<<20+512 {
		t.Fatalf("object size %d", obj.Size())
	}
	// Unaligned object reads, including the last partial page.
	for _, tc := range []struct{ off, n int64 }{{0, 1}, {4095, 2}, {1<<20 - 100, 612}, {77, 300000}} {
		b := make([]byte, tc.n)
		if _, err := obj.ReadAt(b, tc.off); err != nil || !bytes.Equal(b, want[tc.off:tc.off+tc.n]) {
			t.Fatalf("object read %d+%d: %v", tc.off, tc.n, err)
		}
	}
	// The range is now valid in the object: a raw read completes in the
	// caller's context.
	before := d.Stats().FastPath.Load()
	b := make([]byte, 4096)
	if err := d.ReadAt(b, 0); err != nil || !bytes.Equal(b, want[:4096]) {
		t.Fatalf("fast read: %v", err)
	}
	if d.Stats().FastPath.Load() != before+1 {
		t.Fatal("fast path not taken")
	}
	// A raw write of one sector keeps dirty cached bytes of the same page
	// outside that sector.
	if _, err := obj.WriteAt([]byte("keep me"), 8192+100); err != nil {
		t.Fatal(err)
	}
	copy(want[8192+100:], "keep me")
	if err := d.WriteAt(bytes.Repeat([]byte{0xEE}, 512), 8192+1024); err != nil {
		t.Fatal(err)
	}
	copy(want[8192+1024:], bytes.Repeat([]byte{0xEE}, 512))
	page := make([]byte, 4096)
	if _, err := obj.ReadAt(page, 8192); err != nil || !bytes.Equal(page, want[8192:12288]) {
		t.Fatalf("dirty bytes lost around a raw write: %v", err)
	}
	// A raw read sees dirty cached data it does not entirely cover in the
	// cache (here: the second page is not cached).
	obj.Discard(16384, 8192)
	if _, err := obj.WriteAt([]byte("dirty"), 16384+10); err != nil {
		t.Fatal(err)
	}
	copy(want[16384+10:], "dirty")
	obj.Discard(16384+4096, 4096)
	raw := make([]byte, 8192)
	if err := d.ReadAt(raw, 16384); err != nil || !bytes.Equal(raw, want[16384:16384+8192]) {
		t.Fatalf("raw read missed dirty cached data: %v", err)
	}
	// A raw write keeps the object coherent.
	nw := bytes.Repeat([]byte{0xAB}, 1024)
	if err := d.WriteAt(nw, 512); err != nil {
		t.Fatal(err)
	}
	copy(want[512:], nw)
	got := make([]byte, 4096)
	if _, err := obj.ReadAt(got, 0); err != nil || !bytes.Equal(got, want[:4096]) {
		t.Fatalf("object stale after raw write: %v", err)
	}
	// Object writes reach the device on Sync, including the 512-byte tail.
	tail := bytes.Repeat([]byte{0xCD}, 700)
	if _, err := obj.WriteAt(tail, 1<<20-188); err != nil {
		t.Fatal(err)
	}
	copy(want[1<<20-188:], tail)
	if err := obj.Sync(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.data, want) {
		t.Fatal("device differs after sync")
	}
	// Writing past the device end through the object is refused at once;
	// the disk object cannot be truncated.
	if _, err := obj.WriteAt([]byte{1, 2}, 1<<20+511); !errors.Is(err, ErrBeyondEnd) {
		t.Fatalf("object write past end: %v", err)
	}
	if err := obj.Truncate(4096); !errors.Is(err, vm.ErrFixedSize) {
		t.Fatalf("truncate disk object: %v", err)
	}
	if err := obj.Sync(); err != nil {
		t.Fatal(err)
	}
	// Discard zeroes the range (memory device) and drops it from the cache.
	if err := d.DoBio(&Bio{Op: OpDiscard, Off: 4096, Len: 4096}); err != nil {
		t.Fatal(err)
	}
	if _, err := obj.ReadAt(got, 4096); err != nil || !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatalf("discarded range: %v", err)
	}
}

// gateDev holds every request until the test completes it.
type gateDev struct {
	reqs  chan *Request
	mu    sync.Mutex
	open  int
	fault error
}

func (g *gateDev) Name() string   { return "gate" }
func (g *gateDev) Size() int64    { return 1 << 20 }
func (g *gateDev) ReadOnly() bool { return false }
func (g *gateDev) Limits() Limits {
	return Limits{SectorSize: 512, MaxTransfer: 1 << 20, MaxSegments: 64, QueueDepth: 2, Flush: true}
}
func (g *gateDev) Submit(r *Request) {
	g.mu.Lock()
	if r.Op == OpFlush && g.open != 0 {
		g.fault = fmt.Errorf("flush issued with %d requests in flight", g.open)
	}
	g.open++
	g.mu.Unlock()
	g.reqs <- r
}
func (g *gateDev) done(r *Request) {
	g.mu.Lock()
	g.open--
	g.mu.Unlock()
	r.Complete(nil)
}

func TestQueueMergingAndFlushBarrier(t *testing.T) {
	g := &gateDev{reqs: make(chan *Request, 64)}
	d := NewDisk(g, Config{})
	defer d.Close()
	var wg sync.WaitGroup
	start := func(b *Bio) {
		wg.Add(1)
		b.Done = func(*Bio) { wg.Done() }
		d.Strategy(b)
	}
	// Two requests occupy the queue depth.
	start(&Bio{Op: OpWrite, Off: 1 << 19, Buf: make([]byte, 512)})
	start(&Bio{Op: OpWrite, Off: 1<<19 + 4096, Buf: make([]byte, 512)})
	held := []*Request{<-g.reqs, <-g.reqs}
	if d.Stats().MaxFlight.Load() != 2 {
		t.Fatalf("max in flight %d", d.Stats().MaxFlight.Load())
	}
	// Ten adjacent reads queue behind them, then a flush, then a write.
	for i := range 10 {
		start(&Bio{Op: OpRead, Off: int64(9-i) * 512, Buf: make([]byte, 512)})
	}
	start(&Bio{Op: OpFlush})
	start(&Bio{Op: OpWrite, Off: 8192, Buf: make([]byte, 512)})
	for _, r := range held {
		g.done(r)
	}
	seen := 0
	for seen < 12 { // bios still to see after the first two
		r := <-g.reqs
		seen += len(r.bios)
		g.done(r)
	}
	wg.Wait()
	if g.fault != nil {
		t.Fatal(g.fault)
	}
	if m := d.Stats().Merged.Load(); m < 8 {
		t.Fatalf("only %d bios merged", m)
	}
}

func TestManyInFlightParallel(t *testing.T) {
	d, m := newMemDisk(t, 4<<20, false)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 32 {
				off := int64(w)*512*1024 + int64(i)*4096
				b := bytes.Repeat([]byte{byte(w*32 + i)}, 4096)
				if err := d.WriteAt(b, off); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := range 8 {
		for i := range 32 {
			off := w*512*1024 + i*4096
			if m.data[off] != byte(w*32+i) || m.data[off+4095] != byte(w*32+i) {
				t.Fatalf("block %d/%d wrong", w, i)
			}
		}
	}
}

func makeImage(t testing.TB, size int64, fill bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if fill {
		b := make([]byte, size)
		r := rand.New(rand.NewPCG(uint64(size), 7))
		for i := 0; i < len(b); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < len(b); j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := f.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	return p
}

func TestFileDeviceLarge(t *testing.T) {
	const size = 5<<30 + 512 // sparse, > 4 GiB, not a multiple of 1 MiB
	p := makeImage(t, size, false)
	fd, err := OpenFile("vdb", p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	d := NewDisk(fd, Config{Pool: vm.NewPool(32)})
	defer d.Close()
	if d.Size() != size || d.Object().Size() != size {
		t.Fatalf("size %d", d.Size())
	}
	msg := []byte("past four gibibytes")
	off := int64(4<<30 + 12345)
	if _, err := d.Object().WriteAt(msg, off); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Object().WriteAt([]byte("last"), size-4); err != nil {
		t.Fatal(err)
	}
	if err := d.Object().Sync(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	got := make([]byte, len(msg))
	f.ReadAt(got, off)
	if !bytes.Equal(got, msg) {
		t.Fatalf("file has %q at %d", got, off)
	}
	f.ReadAt(got[:4], size-4)
	if string(got[:4]) != "last" {
		t.Fatalf("tail %q", got[:4])
	}
	if st, _ := f.Stat(); st.Size() != size {
		t.Fatalf("file grew to %d", st.Size())
	}
	if err := d.ReadAt(make([]byte, 1024), size-512); !errors.Is(err, ErrBeyondEnd) {
		t.Fatalf("read past end: %v", err)
	}
	if err := d.DoBio(&Bio{Op: OpDiscard, Off: 0, Len: 512}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("discard on file: %v", err)
	}
}

func TestSelfTest(t *testing.T) {
	for _, size := range []int64{1<<20 + 512, 3<<20 + 3*512, 8 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := makeImage(t, size, true)
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			fd, err := OpenFile("vda", p, false)
			if err != nil {
				t.Fatal(err)
			}
			defer fd.Close()
			d := NewDisk(fd, Config{Pool: vm.NewPool(256)})
			sum, n, err := SelfTest(d, 4, rand.New(rand.NewPCG(3, uint64(size))))
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
			if n != size || sum != sha256.Sum256(orig) {
				t.Fatalf("selftest bytes=%d sum=%x, want %d %x", n, sum, size, sha256.Sum256(orig))
			}
			after, _ := os.ReadFile(p)
			half := size / 512 / 2 * 512
			if !bytes.Equal(after[:half], orig[:half]) {
				t.Fatal("first half changed")
			}
			if !bytes.Equal(after[half:2*half], orig[:half]) {
				t.Fatal("second half is not a copy of the first")
			}
			if !bytes.Equal(after[2*half:], orig[2*half:]) {
				t.Fatal("odd last sector changed")
			}
		})
	}
}

// A page-list bio longer than the driver's segment limit is split over
// several requests and ends once, with the data in place.
func TestPageListSplit(t *testing.T) {
	d, m := newMemDisk(t, 4<<20, false)
	pages := make([][]byte, 300) // MemDevice takes 256 segments per request
	for i := range pages {
		pages[i] = bytes.Repeat([]byte{byte(i)}, 4096)
	}
	reqs := d.Stats().Requests.Load()
	done := 0
	b := &Bio{Op: OpWrite, Off: 8192, Pages: pages, Done: func(*Bio) { done++ }}
	if err := d.DoBio(b); err != nil {
		t.Fatal(err)
	}
	if got := d.Stats().Requests.Load() - reqs; got != 2 || done != 1 {
		t.Fatalf("%d requests, done called %d times", got, done)
	}
	for i := range pages {
		if m.data[8192+i*4096] != byte(i) || m.data[8192+i*4096+4095] != byte(i) {
			t.Fatalf("page %d not written", i)
		}
	}
	// Errors in one part end the bio with that error.
	m.FailAt = 8192 + 299*4096
	back := make([][]byte, 300)
	for i := range back {
		back[i] = make([]byte, 4096)
	}
	if err := d.DoBio(&Bio{Op: OpRead, Off: 8192, Pages: back}); !errors.Is(err, ErrIO) {
		t.Fatalf("split read with a failing part: %v", err)
	}
	m.FailAt = -1
	if err := d.DoBio(&Bio{Op: OpRead, Off: 8192, Pages: back}); err != nil {
		t.Fatal(err)
	}
	for i := range back {
		if !bytes.Equal(back[i], pages[i]) {
			t.Fatalf("page %d read back wrong", i)
		}
	}
}

// RunSelfTest prints the digest line and the verdict; a second run over
// the copied disk hashes the disk as the first run left it.
func TestRunSelfTestOutput(t *testing.T) {
	const size = 1<<20 + 512
	p := makeImage(t, size, true)
	fd, err := OpenFile("vda", p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	for run := range 2 {
		before, _ := os.ReadFile(p)
		var out strings.Builder
		d := NewDisk(fd, Config{})
		if err := RunSelfTest(&out, d, 2, rand.New(rand.NewPCG(1, uint64(run)))); err != nil {
			t.Fatal(err)
		}
		d.Close()
		want := fmt.Sprintf("blk: sha256=%x bytes=%d\nselftest blk: ok\n", sha256.Sum256(before), size)
		if out.String() != want {
			t.Fatalf("run %d printed %q, want %q", run, out.String(), want)
		}
	}
	ro, err := OpenFile("vdr", p, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var out strings.Builder
	d := NewDisk(ro, Config{})
	defer d.Close()
	if err := RunSelfTest(&out, d, 2, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrReadOnly) || !strings.Contains(out.String(), "selftest blk: FAIL:") {
		t.Fatalf("read-only disk: %v, printed %q", err, out.String())
	}
}
