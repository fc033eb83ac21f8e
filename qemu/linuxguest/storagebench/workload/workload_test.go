package workload

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances one millisecond per reading.
func fakeClock() func() time.Time {
	var mu sync.Mutex
	t := time.Unix(0, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

// memDev is a Device over a byte slice; corrupt, if set, damages reads.
type memDev struct {
	mu      sync.Mutex
	b       []byte
	reads   int
	writes  int
	corrupt func(p []byte, off int64)
}

func (d *memDev) ReadAt(p []byte, off int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off%Block != 0 || off+int64(len(p)) > int64(len(d.b)) {
		return fmt.Errorf("read of %d at %d out of range or misaligned", len(p), off)
	}
	copy(p, d.b[off:])
	d.reads++
	if d.corrupt != nil {
		d.corrupt(p, off)
	}
	return nil
}

func (d *memDev) WriteAt(p []byte, off int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off%Block != 0 || off+int64(len(p)) > int64(len(d.b)) {
		return fmt.Errorf("write of %d at %d out of range or misaligned", len(p), off)
	}
	copy(d.b[off:], p)
	d.writes++
	return nil
}

func TestStampCheck(t *testing.T) {
	b := make([]byte, 3*Block+100)
	Fill(b, 7)
	Stamp(b, 8*Block, TagRand)
	for i := range 3 {
		tag, ok := Check(b[i*Block:], int64(8+i)*Block)
		if !ok || tag != TagRand {
			t.Errorf("block %d: tag %q ok %v", i, tag, ok)
		}
		if _, ok := Check(b[i*Block:], int64(9+i)*Block); ok {
			t.Errorf("block %d accepted at the wrong offset", i)
		}
	}
	if _, ok := Check(make([]byte, Block), 0); ok {
		t.Error("zero block accepted")
	}
	if _, ok := Check(b[:5], 8*Block); ok {
		t.Error("short block accepted")
	}
	// The tail beyond the last whole block is not stamped.
	if bytes.HasPrefix(b[3*Block:], []byte(magic)) {
		t.Error("partial block stamped")
	}
}

func TestFillNotZero(t *testing.T) {
	a, b := make([]byte, 4096), make([]byte, 4096)
	Fill(a, 1)
	Fill(b, 2)
	if bytes.Equal(a, make([]byte, 4096)) || bytes.Equal(a, b) {
		t.Fatal("fill gives zeros or ignores its seed")
	}
}

func TestLineRoundTrip(t *testing.T) {
	r := Result{Name: "rand-read-qd8", Bytes: 8192 * 4096, Ops: 8192, Elapsed: 2500 * time.Millisecond}
	line := r.Line("blkbench")
	want := "blkbench: rand-read-qd8 MB/s=13.4 iops=3277 bytes=33554432 ms=2500.0"
	if line != want {
		t.Fatalf("line %q, want %q", line, want)
	}
	p, ok := ParseLine(line + "\r\n")
	if !ok || p.Prefix != "blkbench" || p.Name != r.Name || p.Bytes != r.Bytes || p.Ms != 2500 || p.IOPS != 3277 || p.MBps != 13.4 {
		t.Fatalf("parsed %+v ok %v", p, ok)
	}
	if (Result{Name: "x"}).MBps() != 0 || (Result{Name: "x"}).IOPS() != 0 {
		t.Fatal("untimed result has a rate")
	}
}

func TestParseLineRefuses(t *testing.T) {
	for _, l := range []string{
		"",
		"blkbench: seq-read MB/s=1 iops=2 bytes=3",
		"blkbench: seq-read MB/s=1 iops=2 bytes=3 ms=4 extra",
		"blkbench seq-read MB/s=1 iops=2 bytes=3 ms=4",
		"blk bench: seq-read MB/s=1 iops=2 bytes=3 ms=4",
		"blkbench: seq-read MB/s=-1 iops=2 bytes=3 ms=4",
		"blkbench: seq-read MB/s=NaN iops=2 bytes=3 ms=4",
		"blkbench: seq-read MB/s=1 iops=+Inf bytes=3 ms=4",
		"blkbench: seq-read MB/s=1 iops=2 bytes=3.5 ms=4",
		"blkbench: seq-read iops=2 MB/s=1 bytes=3 ms=4",
		"blkbench: a=b MB/s=1 iops=2 bytes=3 ms=4",
		"selftest blkbench: ok",
	} {
		if p, ok := ParseLine(l); ok {
			t.Errorf("%q accepted: %+v", l, p)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("blkbench: seq-read MB/s=1.5 iops=2 bytes=3 ms=4.0")
	f.Add("fsbench: stat MB/s=0.0 iops=1000 bytes=0 ms=1.0\r")
	f.Add("selftest fsbench: ok")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParseLine(s)
		if !ok {
			return
		}
		if p.Bytes < 0 || !finite(p.MBps) || !finite(p.IOPS) || !finite(p.Ms) || p.Prefix == "" {
			t.Fatalf("accepted bad figures %+v", p)
		}
		// A parsed line reformats to one that parses the same way.
		q, ok := ParseLine(fmt.Sprintf("%s: %s MB/s=%v iops=%v bytes=%d ms=%v", p.Prefix, p.Name, p.MBps, p.IOPS, p.Bytes, p.Ms))
		if !ok || q != p {
			t.Fatalf("reparse of %+v gave %+v ok %v", p, q, ok)
		}
	})
}

func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		disk   int64
		region int64
		rand   int
		file   int64
		meta   int
	}{
		{4 << 20, 4 << 20, 1024, 1 << 20, 100},
		{16<<20 + 512, 16 << 20, 4096, 4 << 20, 256},
		{1 << 30, 256 << 20, 8192, 48 << 20, 2000},
		{1 << 20, 1 << 20, 256, 1 << 20, 100},
	} {
		b := Sizes(tc.disk)
		f := FSSizes(tc.disk)
		if b.Region != tc.region || b.RandOps != tc.rand || f.FileSize != tc.file || f.MetaFiles != tc.meta {
			t.Errorf("disk %d: region %d rand %d file %d meta %d", tc.disk, b.Region, b.RandOps, f.FileSize, f.MetaFiles)
		}
	}
}

func TestRaw(t *testing.T) {
	dev := &memDev{b: make([]byte, 8<<20)}
	c := Sizes(int64(len(dev.b)))
	c.RandOps = 300
	c.Now = fakeClock()
	res, err := Raw(dev, c)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"seq-write", "seq-read", "rand-write", "rand-read", "rand-write-qd8", "rand-read-qd8"}
	if len(res) != len(names) {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	for i, r := range res {
		wantBytes, wantOps := int64(8<<20), int64(8)
		if i >= 2 {
			wantBytes, wantOps = 300*Block, 300
		}
		if r.Name != names[i] || r.Bytes != wantBytes || r.Ops != wantOps || r.Elapsed <= 0 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if want := 2*8 + 4*300; dev.reads+dev.writes != want {
		t.Errorf("%d requests, want %d", dev.reads+dev.writes, want)
	}
	// Every block carries its own offset; some were rewritten at random.
	rand := 0
	for off := int64(0); off < int64(len(dev.b)); off += Block {
		tag, ok := Check(dev.b[off:], off)
		if !ok || (tag != TagSeq && tag != TagRand) {
			t.Fatalf("block %d: tag %q ok %v", off, tag, ok)
		}
		if tag == TagRand {
			rand++
		}
	}
	if rand == 0 || rand > 300 {
		t.Errorf("%d randomly written blocks", rand)
	}
}

func TestRawDetectsBadData(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(p []byte, off int64)
		step    string
	}{
		{"lost writes", func(p []byte, off int64) { clear(p) }, "seq-read"},
		{"misplaced", func(p []byte, off int64) {
			if len(p) == Block {
				Stamp(p, off+Block, TagRand)
			}
		}, "rand-read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := &memDev{b: make([]byte, 2<<20), corrupt: tc.corrupt}
			c := Sizes(2 << 20)
			c.Now = fakeClock()
			_, err := Raw(dev, c)
			if err == nil || !strings.HasPrefix(err.Error(), tc.step+":") {
				t.Fatalf("error %v, want one from %s", err, tc.step)
			}
		})
	}
}

func TestRawConfig(t *testing.T) {
	dev := &memDev{b: make([]byte, 2<<20)}
	for _, c := range []BlockConfig{
		{Region: 0, RandOps: 1, Now: fakeClock()},
		{Region: 1<<20 + 4096, RandOps: 1, Now: fakeClock()},
		{Region: 1 << 20, RandOps: 0, Now: fakeClock()},
		{Region: 1 << 20, RandOps: 1},
	} {
		if _, err := Raw(dev, c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestBuffered(t *testing.T) {
	dev := &memDev{b: make([]byte, 4<<20)}
	c := Sizes(int64(len(dev.b)))
	c.Now = fakeClock()
	var order []string
	res, err := Buffered(dev, c,
		func() error { order = append(order, "sync"); return nil },
		func() error { order = append(order, fmt.Sprintf("drop after %d writes", dev.writes)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "buf-seq-write" || res[1].Name != "buf-seq-read" || res[1].Bytes != 4<<20 {
		t.Fatalf("results %+v", res)
	}
	if strings.Join(order, ",") != "sync,drop after 4 writes" {
		t.Fatalf("order %v", order)
	}
	want := errors.New("cannot drop")
	if _, err := Buffered(dev, c, func() error { return nil }, func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("drop error lost: %v", err)
	}
}

func TestFilesOS(t *testing.T) {
	root := t.TempDir()
	fsys := OSFS{Root: root}
	c := FSSizes(16 << 20)
	c.Now = fakeClock()
	remounts := 0
	c.Remount = func() (FS, error) { remounts++; return fsys, nil }
	res, end, err := Files(fsys, c)
	if err != nil {
		t.Fatal(err)
	}
	if end != fsys || remounts != 1 {
		t.Fatalf("end %v remounts %d", end, remounts)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, " "); got != "write read-cold read-warm create stat remove" {
		t.Fatalf("figures %s", got)
	}
	if res[0].Bytes != 4<<20 || res[0].Ops != 4 || res[3].Ops != 256 || res[3].Bytes != 256*1024 {
		t.Fatalf("results %+v", res)
	}
	left, err := os.ReadDir(root)
	if err != nil || len(left) != 0 {
		t.Fatalf("left behind: %v %v", left, err)
	}
}

// shortFS is an OSFS whose files read back a byte less than asked.
type shortFS struct{ OSFS }
type shortFile struct{ File }

func (s shortFS) Open(name string) (File, error) {
	f, err := s.OSFS.Open(name)
	return shortFile{f}, err
}

func (s shortFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.File.ReadAt(p[:len(p)-1], off)
	return n, err
}

func TestFilesDetectsShortRead(t *testing.T) {
	fsys := shortFS{OSFS{Root: t.TempDir()}}
	c := FSSizes(4 << 20)
	c.Now = fakeClock()
	c.Remount = func() (FS, error) { return fsys, nil }
	if _, _, err := Files(fsys, c); err == nil || !strings.HasPrefix(err.Error(), "read-cold:") {
		t.Fatalf("error %v", err)
	}
}

func TestFilesRefusesExisting(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "fsbench"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := FSSizes(4 << 20)
	c.Now = fakeClock()
	c.Remount = func() (FS, error) { return OSFS{Root: root}, nil }
	if _, _, err := Files(OSFS{Root: root}, c); !errors.Is(err, os.ErrExist) {
		t.Fatalf("error %v", err)
	}
}
