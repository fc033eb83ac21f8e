package selftest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"damselfly/vfs"
	"damselfly/vfs/ext2"
	"damselfly/vfs/memfs"
)

// TestCrashWorkloadModel runs the workload to the end on memfs: the model built from its
// lines agrees with the tree, and Check notices a file changed behind its back.
func TestCrashWorkloadModel(t *testing.T) {
	v := vfs.New(memfs.New(nil), vfs.MountOptions{}, vfs.Config{})
	defer v.Close()
	var out bytes.Buffer
	n, err := CrashWorkload(v, rand.New(rand.NewPCG(7, 8)), 7, CrashConfig{Batches: 40, MaxFile: 64 << 10}, &out)
	if err != nil || n != 40 {
		t.Fatalf("%d batches: %v", n, err)
	}
	m := NewCrashModel()
	if err := m.Feed(&out); err != nil {
		t.Fatal(err)
	}
	if m.Synced != 40 || m.Seed != 7 || m.Dir != "/crash" || len(m.InFlight) != 0 {
		t.Fatalf("model: synced %d seed %d dir %q in flight %d", m.Synced, m.Seed, m.Dir, len(m.InFlight))
	}
	present := 0
	for _, e := range m.Files {
		if e.Present {
			present++
		}
	}
	if present == 0 || present == len(m.Files) {
		t.Fatalf("%d of %d paths present: workload did not both create and remove", present, len(m.Files))
	}
	if diffs := m.Check(v.ReadFile); len(diffs) > 0 {
		t.Fatalf("model disagrees with the tree:\n%s", strings.Join(diffs, "\n"))
	}
	for p, e := range m.Files {
		if e.Present && e.Size > 0 {
			f, err := v.OpenFile(p, vfs.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{'!'}, 0)
			f.Close()
			if diffs := m.Check(v.ReadFile); len(diffs) != 1 || !strings.HasPrefix(diffs[0], p+":") {
				t.Fatalf("changed %s, check says %q", p, diffs)
			}
			break
		}
	}
}

func TestCrashModelRejects(t *testing.T) {
	for _, lines := range [][]string{
		{"vfscrash: batch 2 touch /a"}, // batch 1 missing
		{"vfscrash: batch 1 touch /a", "vfscrash: file /b 1 " + strings.Repeat("0", 64)}, // not touched
		{"vfscrash: batch 1 touch /a", "vfscrash: file /a x " + strings.Repeat("0", 64)},
		{"vfscrash: batch 1 touch /a", "vfscrash: file /a -1 " + strings.Repeat("0", 64)},
		{"vfscrash: batch 1 touch /a", "vfscrash: synced 1"}, // report incomplete
		{"vfscrash: bogus"},
		{"vfscrash: synced"},
	} {
		m := NewCrashModel()
		var err error
		for _, l := range lines {
			if err = m.Line(l); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("%q accepted", lines)
		}
	}
}

// cutRecorder is the console and the disk of a workload run: at device write number cuts[i]
// it copies the disk image aside before the write lands, as a power cut at that moment would
// leave it (the device writes straight to the image file; the filesystem's in-memory state
// is lost), and notes how many console lines had been printed.
type cutRecorder struct {
	fileDev
	img    string
	writes int
	lines  int
	cuts   map[int]*cut // device write number -> cut
	log    bytes.Buffer
	snapEr error
}

type cut struct {
	snap  string
	lines int // console lines printed before the cut
	taken bool
}

func (c *cutRecorder) Write(p []byte) (int, error) {
	c.log.Write(p)
	c.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func (c *cutRecorder) WriteAt(p []byte, off int64) (int, error) {
	c.writes++
	if k, ok := c.cuts[c.writes]; ok {
		b, err := os.ReadFile(c.img)
		if err == nil {
			err = os.WriteFile(k.snap, b, 0o644)
		}
		if err != nil && c.snapEr == nil {
			c.snapEr = err
		}
		k.lines, k.taken = c.lines, true
	}
	return c.fileDev.WriteAt(p, off)
}

// TestCrashWorkloadExt2 is the guest crash test on the host: the workload runs on an ext2
// image and the image is copied before random device writes; each copy is repaired with
// e2fsck -fy, must then be clean, and every path the lines printed before the cut reported
// (outside the batch in flight) reads back as reported.
func TestCrashWorkloadExt2(t *testing.T) {
	for _, tool := range []string{"mke2fs", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install -y e2fsprogs)", tool)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "root.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	rec := &cutRecorder{fileDev: fileDev{f: f, size: st.Size()}, img: img}
	fsys, err := ext2.Mount(rec, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New(fsys, vfs.MountOptions{}, vfs.Config{})
	const batches = 25
	cfg := CrashConfig{Batches: batches, MaxFile: 64 << 10}
	// The run is deterministic (seeded) and makes about 1800 device writes; a cut past its
	// end fails below as not taken.
	rec.cuts = map[int]*cut{}
	cr := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 6; i++ {
		w := 20 + cr.IntN(1600)
		rec.cuts[w] = &cut{snap: filepath.Join(dir, fmt.Sprintf("cut%d.img", w))}
	}
	if n, err := CrashWorkload(v, rand.New(rand.NewPCG(3, 4)), 3, cfg, rec); err != nil || n != batches {
		t.Fatalf("%d batches: %v", n, err)
	}
	v.Close()
	if rec.snapEr != nil {
		t.Fatal(rec.snapEr)
	}
	lines := strings.SplitAfter(rec.log.String(), "\n")
	for wn, k := range rec.cuts {
		if !k.taken {
			t.Fatalf("cut at write %d of %d not taken", wn, rec.writes)
		}
		snap, line := k.snap, k.lines
		t.Run(fmt.Sprintf("write%d", wn), func(t *testing.T) {
			m := NewCrashModel()
			if err := m.Feed(strings.NewReader(strings.Join(lines[:line], ""))); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("e2fsck", "-fy", snap).CombinedOutput()
			var ee *exec.ExitError
			if err != nil && (!errors.As(err, &ee) || ee.ExitCode() >= 4) {
				t.Fatalf("e2fsck -fy: %v\n%s", err, out)
			}
			if out, err := exec.Command("e2fsck", "-fn", snap).CombinedOutput(); err != nil {
				t.Fatalf("e2fsck -fn after repair: %v\n%s", err, out)
			}
			sf, err := os.Open(snap)
			if err != nil {
				t.Fatal(err)
			}
			defer sf.Close()
			sst, _ := sf.Stat()
			cut, err := ext2.Mount(&fileDev{f: sf, size: sst.Size()}, ext2.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			cv := vfs.New(cut, vfs.MountOptions{ReadOnly: true}, vfs.Config{})
			defer cv.Close()
			if diffs := m.Check(cv.ReadFile); len(diffs) > 0 {
				t.Fatalf("after a cut at line %d (batch %d synced, %d paths in flight):\n%s", line, m.Synced, len(m.InFlight), strings.Join(diffs, "\n"))
			}
			t.Logf("cut before write %d (console line %d): batch %d synced, %d paths checked, %d in flight", wn, line, m.Synced, len(m.Files), len(m.InFlight))
		})
	}
}

// FuzzCrashModel feeds arbitrary console text to the model (the host parses what a guest
// printed): errors are fine, panics are not, and Check stays well-behaved on what it built.
func FuzzCrashModel(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	f.Add("vfscrash: start seed=1 dir=/crash\nvfscrash: batch 1 touch /crash/a /crash/b\nvfscrash: file /crash/a 3 " + sum + "\nvfscrash: gone /crash/b\nvfscrash: synced 1\n")
	f.Add("vfscrash: batch 1 touch\nvfscrash: synced 1\nvfscrash: batch 2 touch /x\nvfscrash: file /x -1 " + sum + "\n")
	f.Add("vfscrash: synced\nvfscrash: \nvfscrash: file\r\nnoise\n")
	f.Fuzz(func(t *testing.T, text string) {
		m := NewCrashModel()
		for _, l := range strings.Split(text, "\n") {
			if m.Line(l) != nil {
				break
			}
		}
		m.Check(func(p string) ([]byte, error) { return []byte(p), nil })
	})
}
