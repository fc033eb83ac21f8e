package ci

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"damselfly/qemu"
)

// vfsTree writes the source tree of the vfs boot test: regular files of
// several sizes (a sparse-looking one with a hole), names ending in .del and
// .mv, symlinks and nested directories.
func vfsTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	r := rand.New(rand.NewPCG(1, 2))
	data := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	files := map[string][]byte{
		"hello.txt":           []byte("hello, damselfly\n"),
		"empty":               nil,
		"big.bin":             data(700_000),
		"sub/one.txt":         []byte("one\n"),
		"sub/deep/two.bin":    data(5000),
		"sub/deep/remove.del": []byte("going away"),
		"gone.del":            data(20000),
		"rename.mv":           []byte("moved content\n"),
		"sub/also.mv":         data(3000),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hole := append(append(data(4096), make([]byte, 1<<20)...), data(100)...)
	if err := os.WriteFile(filepath.Join(dir, "sub/holey.bin"), hole, 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"link": "hello.txt", "sub/uplink": "../big.bin", "sub/long": strings.Repeat("x/", 50) + "y"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// snapshot maps every path under dir to "file:<content>", "link:<target>"
// or "dir".
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || rel == "lost+found" {
			if rel == "lost+found" {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m[rel] = "link:" + target
		case d.IsDir():
			m[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = "file:" + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// expectedAfterVFS applies the self-test's rules to a snapshot.
func expectedAfterVFS(before map[string]string) map[string]string {
	after := map[string]string{}
	for p, v := range before {
		switch {
		case strings.HasSuffix(p, ".del") && strings.HasPrefix(v, "file:"):
		case strings.HasSuffix(p, ".mv") && strings.HasPrefix(v, "file:"):
			after[strings.TrimSuffix(p, ".mv")+".moved"] = v
		case strings.HasPrefix(v, "file:"):
			after[p] = v
			after[p+".copy"] = v
		default:
			after[p] = v
		}
	}
	return after
}

// TestBootVFS boots with an ext2 root made by mke2fs -d, runs selftest=vfs,
// then checks the image from outside: e2fsck -fn clean, and the tree dumped
// by debugfs equal to the expected one.
func TestBootVFS(t *testing.T) {
	needE2fsprogs(t)
	for _, bs := range []string{"1024", "4096"} {
		bs := bs
		t.Run("bs"+bs, func(t *testing.T) {
			t.Parallel()
			src := vfsTree(t)
			before := snapshot(t, src)
			img := filepath.Join(t.TempDir(), "root.img")
			mkext2(t, img, bs, "32M", src)
			out, res, err := boot(t, qemu.Config{SMP: 2, Memory: "256M", Disks: []string{img}, Append: "root=/dev/vda rw selftest=vfs poweroff"}, 120*time.Second)
			if err != nil {
				t.Fatalf("%v (status %d)", err, res.Status)
			}
			if !strings.Contains(out, "selftest vfs: ok") || res.Status != qemu.StatusSuccess {
				t.Fatalf("self-test did not pass (status %d)", res.Status)
			}
			checkPortStats(t, out)
			if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
				t.Fatalf("e2fsck -fn: %v\n%s", err, out)
			}
			dump := filepath.Join(t.TempDir(), "dump")
			os.MkdirAll(dump, 0o755)
			if out, err := exec.Command("debugfs", "-R", "rdump / "+dump, img).CombinedOutput(); err != nil {
				t.Fatalf("debugfs rdump: %v\n%s", err, out)
			}
			got := snapshot(t, dump)
			want := expectedAfterVFS(before)
			var diffs []string
			for p, v := range want {
				if got[p] != v {
					diffs = append(diffs, "want "+p+" ("+short(v)+"), got ("+short(got[p])+")")
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok {
					diffs = append(diffs, "unexpected "+p)
				}
			}
			sort.Strings(diffs)
			if len(diffs) > 0 {
				t.Fatalf("tree after selftest=vfs differs:\n%s", strings.Join(diffs, "\n"))
			}
		})
	}
}

var (
	portRE       = regexp.MustCompile(`(?m)^vfs:/: (\d+) sync, (\d+) queued\r?$`)
	portThreadRE = regexp.MustCompile(`(?m)^  vfs:/\/\d+ cpu(\d+) served (\d+)\r?$`)
)

// checkPortStats reads the root port's counters the vfs self-test prints:
// VOPs completed in the sender and VOPs queued, and every filesystem thread
// (LWKT, one per CPU) with the queued VOPs it served, which must add up.
func checkPortStats(t *testing.T, console string) {
	t.Helper()
	m := portRE.FindStringSubmatch(console)
	if m == nil {
		t.Fatal("no root port counters on the console")
	}
	sync, _ := strconv.Atoi(m[1])
	queued, _ := strconv.Atoi(m[2])
	threads := portThreadRE.FindAllStringSubmatch(console, -1)
	served := 0
	for _, th := range threads {
		n, _ := strconv.Atoi(th[2])
		served += n
	}
	t.Logf("root port: %d VOPs completed in the sender, %d queued, %d filesystem threads served %d", sync, queued, len(threads), served)
	if sync == 0 || queued == 0 || len(threads) != 2 || served != queued {
		t.Fatalf("want both paths used and 2 threads (-smp 2) serving every queued VOP")
	}
}

func short(v string) string {
	if len(v) > 40 {
		return v[:20] + "..." + string(bytes.ToValidUTF8([]byte(v[len(v)-8:]), nil))
	}
	return v
}
