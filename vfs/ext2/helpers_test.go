package ext2

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"damselfly/vfs"
	"damselfly/vfs/vfstest"
)

// fileDev is a Device over a disk image file; pread/pwrite make it safe for concurrent use.
type fileDev struct {
	f    *os.File
	size int64
}

func openDev(t testing.TB, path string) *fileDev {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &fileDev{f: f, size: st.Size()}
}

func (d *fileDev) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d *fileDev) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d *fileDev) Size() int64                              { return d.size }

// memDev is a Device over a byte slice, for fuzzing.
type memDev struct{ b []byte }

func (d *memDev) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(d.b)) {
		return 0, io.EOF
	}
	n := copy(p, d.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (d *memDev) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(d.b)) {
		return 0, vfs.EIO
	}
	return copy(d.b[off:], p), nil
}

func (d *memDev) Size() int64 { return int64(len(d.b)) }

var fixedNow = func() time.Time { return time.Unix(1700000000, 0) }

func needTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"mke2fs", "e2fsck", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install e2fsprogs (apt-get install -y e2fsprogs) to run ext2 image tests", tool)
		}
	}
}

// mkfs builds an ext2 image of size bytes with block size bs from directory src ("" = empty).
func mkfs(t testing.TB, bs int, size int64, src string, extra ...string) string {
	t.Helper()
	needTools(t)
	img := filepath.Join(t.TempDir(), "disk.img")
	args := []string{"-q", "-F", "-t", "ext2", "-b", fmt.Sprint(bs), "-E", "root_owner=0:0"}
	args = append(args, extra...)
	if src != "" {
		args = append(args, "-d", src)
	}
	args = append(args, img, fmt.Sprintf("%dk", size/1024))
	out, err := exec.Command("mke2fs", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mke2fs %v: %v\n%s", args, err, out)
	}
	// mke2fs leaves trailing unused blocks unwritten; give the file the filesystem's size.
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	return img
}

// fsck runs e2fsck -fn and fails the test unless the image is clean.
func fsck(t testing.TB, img string) {
	t.Helper()
	out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn reports problems: %v\n%s", err, out)
	}
}

func mount(t testing.TB, img string, ro bool) *FS {
	t.Helper()
	fs, err := Mount(openDev(t, img), Options{ReadOnly: ro, Now: fixedNow})
	if err != nil {
		t.Fatalf("mount %s: %v", img, err)
	}
	return fs
}

func resolve(fs *FS, path string) (vfs.Ino, vfs.Type, error) { return vfstest.Resolve(fs, path) }

func readAll(fs *FS, ino vfs.Ino, chunk int) ([]byte, error) { return vfstest.ReadAll(fs, ino, chunk) }

func listAll(fs *FS, dir vfs.Ino) ([]vfs.DirEntry, error) { return vfstest.ListAll(fs, dir) }

func splitParent(path string) (string, string) {
	path = strings.Trim(path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

func mkdirFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

func dirIno(t *testing.T, f *FS, dir string) vfs.Ino {
	t.Helper()
	ino, _, err := resolve(f, dir)
	if err != nil {
		t.Fatalf("resolve %q: %v", dir, err)
	}
	return ino
}
