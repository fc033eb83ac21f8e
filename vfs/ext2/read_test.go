package ext2

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"damselfly/vfs"
)

// genTree writes a tree exercising every block-map level, holes, large sparse files, deep and
// wide directories and both kinds of symlink. It returns the total apparent size.
func genTree(t testing.TB, dir string, bs int, withHuge bool, wide int) {
	t.Helper()
	r := rand.New(rand.NewSource(int64(bs)))
	apb := bs / 4
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rnd := func(n int) []byte {
		b := make([]byte, n)
		r.Read(b)
		return b
	}
	for _, n := range []int{0, 1, 59, 60, 511, bs - 1, bs, bs + 1, 12 * bs, 12*bs + 1, 3*bs + 7} {
		write(fmt.Sprintf("sizes/f%d", n), rnd(n))
	}
	write("indirect/single", rnd((12+apb/2)*bs+3))
	write("indirect/double", rnd((12+apb+5)*bs+11))
	// A sparse file with data in the direct, single, double and triple indirect regions.
	sparse := func(name string, size int64, offs []int64) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, o := range offs {
			if _, err := f.WriteAt(rnd(100+int(o%977)), o); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
	}
	tind := int64(12+apb+apb*apb) * int64(bs)
	sparse("sparse/holes", tind+int64(bs)*3, []int64{5, int64(bs) * 20, int64(12+apb+7) * int64(bs), tind + 17})
	sparse("sparse/trailing-hole", 1<<20, []int64{0})
	if withHuge {
		sparse("sparse/huge", 5<<30, []int64{1 << 31, 4<<30 + 12345})
	}
	// Deep and wide directories.
	deep := "deep"
	for i := 0; i < 40; i++ {
		deep = filepath.Join(deep, fmt.Sprintf("d%d", i))
	}
	write(filepath.Join(deep, "leaf"), []byte("bottom"))
	os.MkdirAll(filepath.Join(dir, "wide"), 0o755)
	for i := 0; i < wide; i++ {
		name := fmt.Sprintf("wide/entry-%04d-%s", i, strings.Repeat("x", i%40))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "links"), 0o755)
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	for name, target := range map[string]string{
		"links/fast":   "../sizes/f1",
		"links/slow":   strings.Repeat("long/", 30) + "target",
		"links/edge59": strings.Repeat("a", 59),
		"links/edge60": strings.Repeat("b", 60),
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// compareTree checks every file, directory and symlink under host dir against the image.
func compareTree(t *testing.T, f *FS, dir string) {
	t.Helper()
	count := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			rel = ""
		}
		ino, typ, err := resolve(f, rel)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		count++
		info, _ := os.Lstat(p)
		attr, err := f.Getattr(ino)
		if err != nil {
			t.Errorf("%s: getattr: %v", rel, err)
			return nil
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			want, _ := os.Readlink(p)
			got, err := f.Readlink(ino)
			if err != nil || got != want || typ != vfs.TypeSymlink {
				t.Errorf("%s: readlink = %q, %v (type %v); want %q", rel, got, err, typ, want)
			}
		case info.IsDir():
			ents, err := listAll(f, ino)
			if err != nil {
				t.Errorf("%s: readdir: %v", rel, err)
				return nil
			}
			hostEnts, _ := os.ReadDir(p)
			var got, want []string
			for _, e := range ents {
				got = append(got, e.Name)
			}
			for _, e := range hostEnts {
				want = append(want, e.Name())
			}
			sort.Strings(got)
			sort.Strings(want)
			if rel == "" { // mke2fs adds lost+found
				want = append(want, "lost+found")
				sort.Strings(want)
			}
			if strings.Join(got, "/") != strings.Join(want, "/") {
				t.Errorf("%s: readdir has %d entries, want %d", rel, len(got), len(want))
			}
		default:
			if attr.Size != info.Size() {
				t.Errorf("%s: size %d, want %d", rel, attr.Size, info.Size())
				return nil
			}
			if info.Size() > 64<<20 {
				compareSparse(t, f, ino, p, info.Size())
				return nil
			}
			want, _ := os.ReadFile(p)
			got, err := readAll(f, ino, 3000)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: content differs (%d vs %d bytes, err %v)", rel, len(got), len(want), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count < 200 {
		t.Fatalf("compared only %d nodes", count)
	}
}

// compareSparse compares a huge sparse file at sampled windows, including its data.
func compareSparse(t *testing.T, f *FS, ino vfs.Ino, host string, size int64) {
	hf, err := os.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	for _, off := range []int64{0, 1<<31 - 100, 1 << 31, 4<<30 + 12000, size - 4096} {
		want := make([]byte, 8192)
		n, _ := hf.ReadAt(want, off)
		got := make([]byte, 8192)
		m, _ := f.Read(ino, got, off)
		if n != m || !bytes.Equal(got[:m], want[:n]) {
			t.Errorf("%s at %d: %d bytes differ from host's %d", host, off, m, n)
		}
	}
}

func TestReadImage(t *testing.T) {
	for _, tc := range []struct {
		bs    int
		inode int
		huge  bool
		wide  int
	}{
		{1024, 128, false, 3000},
		{1024, 256, true, 200},
		{4096, 256, true, 200},
	} {
		t.Run(fmt.Sprintf("bs%d-inode%d", tc.bs, tc.inode), func(t *testing.T) {
			needTools(t)
			src := t.TempDir()
			genTree(t, src, tc.bs, tc.huge, tc.wide)
			img := mkfs(t, tc.bs, 96<<20, src, "-I", fmt.Sprint(tc.inode), "-N", "8192")
			f := mount(t, img, true)
			compareTree(t, f, src)
		})
	}
}
