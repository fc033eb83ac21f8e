package selftest

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"damselfly/vfs/ext2"
	"damselfly/vfs/rootfs"
)

type fileDev struct {
	f    *os.File
	size int64
}

func (d *fileDev) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d *fileDev) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d *fileDev) Size() int64                              { return d.size }

// buildSource writes the boot-test tree: files to copy, to remove, to rename, symlinks and
// nested directories. It returns the expected tree after the self-test as path -> content
// ("->target" for symlinks, "/" for directories).
func buildSource(t *testing.T, dir string) map[string]string {
	t.Helper()
	r := rand.New(rand.NewSource(1))
	want := map[string]string{}
	put := func(name string, size int) {
		data := make([]byte, size)
		r.Read(data)
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, ".del"):
		case strings.HasSuffix(name, ".mv"):
			want[strings.TrimSuffix(name, ".mv")+".moved"] = string(data)
		default:
			want[name] = string(data)
			want[name+".copy"] = string(data)
		}
	}
	put("hello.txt", 13)
	put("empty", 0)
	put("big.bin", 3<<20+17)
	put("junk.del", 100)
	put("notes.mv", 2000)
	put("sub/a", 4096)
	put("sub/b.del", 1)
	put("sub/deeper/c.mv", 50000)
	put("sub/deeper/d", 70000)
	for i := 0; i < 40; i++ {
		put(fmt.Sprintf("many/f%02d", i), i*37)
	}
	os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755)
	os.Symlink("hello.txt", filepath.Join(dir, "link"))
	os.Symlink(strings.Repeat("x/", 40)+"far", filepath.Join(dir, "sub/longlink"))
	want["link"] = "->hello.txt"
	want["sub/longlink"] = "->" + strings.Repeat("x/", 40) + "far"
	for _, d := range []string{"sub", "sub/deeper", "many", "emptydir", "lost+found"} {
		want[d] = "/"
	}
	return want
}

// readTree reads a host directory (an rdump) into the same form as buildSource's result.
func readTree(t *testing.T, dir string) map[string]string {
	got := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			got[rel] = "->" + target
		case d.IsDir():
			got[rel] = "/"
		default:
			b, _ := os.ReadFile(p)
			got[rel] = string(b)
		}
		return nil
	})
	return got
}

func TestSelfTestVFSOnExt2(t *testing.T) {
	for _, tool := range []string{"mke2fs", "e2fsck", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install e2fsprogs (apt-get install -y e2fsprogs)", tool)
		}
	}
	src := t.TempDir()
	want := buildSource(t, src)
	img := filepath.Join(t.TempDir(), "root.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-E", "root_owner=0:0",
		"-d", src, img, "32m").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	os.Truncate(img, 32<<20)

	open := func(name string) (ext2.Device, error) {
		if name != "/dev/vda" {
			return nil, fs.ErrNotExist
		}
		f, err := os.OpenFile(img, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { f.Close() })
		st, _ := f.Stat()
		return &fileDev{f: f, size: st.Size()}, nil
	}
	root, err := rootfs.Mount(rootfs.Config{Root: "/dev/vda", Now: func() time.Time { return time.Unix(1700000000, 0) }}, open)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := SelfTestVFS(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("selftest vfs: ok (%v)", sum)
	if sum.Removed != 2 || sum.Renamed != 2 || sum.Copied != 45 {
		t.Errorf("summary %v; want 2 removed, 2 renamed, 45 copied", sum)
	}

	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
	out, err := exec.Command("debugfs", "-R", "ls -l /", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "notes.moved") || strings.Contains(string(out), "junk.del") {
		t.Fatalf("debugfs ls -l /: %v\n%s", err, out)
	}
	dump := t.TempDir()
	if out, err := exec.Command("debugfs", "-R", "rdump / "+dump, img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs rdump: %v\n%s", err, out)
	}
	got := readTree(t, dump)
	var diffs []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			diffs = append(diffs, "missing "+p)
		} else if !bytes.Equal([]byte(g), []byte(w)) {
			diffs = append(diffs, fmt.Sprintf("differs %s (%d vs %d bytes)", p, len(g), len(w)))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "unexpected "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("image differs from expected tree:\n%s", strings.Join(diffs, "\n"))
	}
}

func TestRootMemfsDefault(t *testing.T) {
	root, err := rootfs.Mount(rootfs.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.WriteFile("x.mv", []byte("m"), 0o644); err != nil {
		t.Fatal(err)
	}
	root.WriteFile("y", []byte("yy"), 0o644)
	root.WriteFile("z.del", nil, 0o644)
	sum, err := SelfTestVFS(root)
	if err != nil || sum.Copied != 1 || sum.Renamed != 1 || sum.Removed != 1 {
		t.Fatalf("%v %v", sum, err)
	}
}

func TestRootRefusesBadDisk(t *testing.T) {
	img := filepath.Join(t.TempDir(), "zero.img")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)
	f, _ := os.OpenFile(img, os.O_RDWR, 0)
	defer f.Close()
	_, err := rootfs.Mount(rootfs.Config{Root: "/dev/vda"}, func(string) (ext2.Device, error) {
		return &fileDev{f: f, size: 1 << 20}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "bad magic") {
		t.Fatalf("zeroed disk: %v", err)
	}
	b, _ := os.ReadFile(img)
	if !bytes.Equal(b, make([]byte, 1<<20)) {
		t.Fatal("refused disk was written")
	}
}
