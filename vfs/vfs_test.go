package vfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"damselfly/vfs"
	"damselfly/vfs/embedfs"
	"damselfly/vfs/memfs"
)

var fixedNow = func() time.Time { return time.Unix(1700000000, 0) }

func newMem(t *testing.T) *vfs.VFS {
	v := vfs.New(memfs.New(fixedNow), vfs.MountOptions{Threads: 2}, vfs.Config{})
	t.Cleanup(func() { v.Close() })
	return v
}

// populate builds a small tree and returns the file names fstest should find.
func populate(t *testing.T, v *vfs.VFS, prefix string) []string {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.MkdirAll(prefix+"a/b/c", 0o755))
	must(v.Mkdir(prefix+"empty", 0o700))
	must(v.WriteFile(prefix+"a/one.txt", []byte("one"), 0o644))
	must(v.WriteFile(prefix+"a/b/two.bin", bytes.Repeat([]byte{7}, 10000), 0o600))
	must(v.WriteFile(prefix+"a/b/c/three", nil, 0o644))
	must(v.WriteFile(prefix+"top", []byte("top"), 0o644))
	return []string{"a/one.txt", "a/b/two.bin", "a/b/c/three", "top", "empty"}
}

func TestFSTestMemfs(t *testing.T) {
	v := newMem(t)
	want := populate(t, v, "")
	if err := fstest.TestFS(v.FS(), want...); err != nil {
		t.Fatal(err)
	}
}

func TestEmbedfs(t *testing.T) {
	src := fstest.MapFS{
		"index.html":     {Data: []byte("<h1>hi</h1>"), Mode: 0o444},
		"css/site.css":   {Data: []byte("body{}"), Mode: 0o444},
		"img/deep/x.png": {Data: bytes.Repeat([]byte{1}, 5000), Mode: 0o444},
	}
	v := vfs.New(memfs.New(fixedNow), vfs.MountOptions{}, vfs.Config{})
	defer v.Close()
	if err := v.Mkdir("www", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := v.Mount("/www", embedfs.New(src, embedfs.Options{}), vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(v.FS(), "www")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "index.html", "css/site.css", "img/deep/x.png"); err != nil {
		t.Fatal(err)
	}
	if err := v.WriteFile("www/new", nil, 0o644); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("write on embedfs: %v, want ErrPermission", err)
	}
}

func TestErrorsWrapSentinels(t *testing.T) {
	v := newMem(t)
	populate(t, v, "")
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"open missing", func() error { _, err := v.Open("nope"); return err }(), fs.ErrNotExist},
		{"stat through file", func() error { _, err := v.Stat("top/x"); return err }(), nil},
		{"mkdir existing", v.Mkdir("a", 0o755), fs.ErrExist},
		{"create excl", func() error { _, err := v.OpenFile("top", vfs.O_CREATE|vfs.O_EXCL|vfs.O_RDWR, 0); return err }(), fs.ErrExist},
		{"remove non-empty", v.Remove("a"), fs.ErrExist},
		{"fs view invalid", func() error { _, err := v.FS().Open("/abs"); return err }(), fs.ErrInvalid},
		{"fs view dotdot", func() error { _, err := v.FS().Open("a/../top"); return err }(), fs.ErrInvalid},
		{"rename root", v.Rename("/", "x"), fs.ErrInvalid},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		var pe *fs.PathError
		if !errors.As(tc.err, &pe) {
			t.Errorf("%s: %T is not *fs.PathError", tc.name, tc.err)
		}
		if tc.want != nil && !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v does not wrap %v", tc.name, tc.err, tc.want)
		}
	}
	// A read-only mount refuses changes with ErrPermission.
	if err := v.Mkdir("ro", 0o755); err != nil {
		t.Fatal(err)
	}
	inner := memfs.New(fixedNow)
	if err := v.Mount("ro", inner, vfs.MountOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		v.WriteFile("ro/f", nil, 0o644),
		v.Mkdir("ro/d", 0o755),
		v.Symlink("x", "ro/l"),
	} {
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("change on read-only mount: %v, want ErrPermission", err)
		}
	}
}

func TestNamecacheHandsOnlyTheTail(t *testing.T) {
	v := newMem(t)
	if err := v.MkdirAll("p/q/r/s", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := v.WriteFile("p/q/r/s/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A fresh namespace over the same filesystem starts with a cold cache.
	fsys := v.Mounts()[0].Filesystem()
	w := vfs.New(fsys, vfs.MountOptions{}, vfs.Config{})
	s0 := w.NamecacheStats()
	if _, err := w.Stat("p/q/r/s/f"); err != nil {
		t.Fatal(err)
	}
	s1 := w.NamecacheStats()
	if got := s1.Lookups - s0.Lookups; got != 1 {
		t.Fatalf("cold five-component path took %d Lookup messages, want 1", got)
	}
	if _, err := w.Stat("p/q/r/s/f"); err != nil {
		t.Fatal(err)
	}
	s2 := w.NamecacheStats()
	if s2.Lookups != s1.Lookups || s2.Hits-s1.Hits != 5 {
		t.Fatalf("warm path: %d lookups, %d hits; want 0 and 5", s2.Lookups-s1.Lookups, s2.Hits-s1.Hits)
	}
	// Only the unresolved tail is sent: a new sibling under a cached prefix costs one lookup
	// of one component.
	if _, err := w.Stat("p/q/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	s3 := w.NamecacheStats()
	if s3.Lookups-s2.Lookups != 1 || s3.Misses-s2.Misses != 1 {
		t.Fatalf("sibling: %d lookups, %d components; want 1 and 1", s3.Lookups-s2.Lookups, s3.Misses-s2.Misses)
	}
	// The miss is cached negative.
	w.Stat("p/q/missing")
	if s4 := w.NamecacheStats(); s4.NegHits != s3.NegHits+1 || s4.Lookups != s3.Lookups {
		t.Fatalf("negative entry not used: %+v", s4)
	}
}

func TestNamecacheBounded(t *testing.T) {
	v := vfs.New(memfs.New(fixedNow), vfs.MountOptions{}, vfs.Config{NamecacheMax: 50})
	defer v.Close()
	v.Mkdir("d", 0o755)
	for i := 0; i < 300; i++ {
		if err := v.WriteFile(fmt.Sprintf("d/f%d", i), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 300; i++ {
		if _, err := v.Stat(fmt.Sprintf("d/f%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if s := v.NamecacheStats(); s.Entries > 50 || s.Evictions == 0 {
		t.Fatalf("cache holds %d entries (%d evictions), bound 50", s.Entries, s.Evictions)
	}
}

func TestMountsAndInvalidation(t *testing.T) {
	v := newMem(t)
	v.MkdirAll("mnt", 0o755)
	v.WriteFile("mnt/hidden", []byte("under"), 0o644)
	inner := memfs.New(fixedNow)
	if err := v.Mount("/mnt", inner, vfs.MountOptions{Threads: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Stat("mnt/hidden"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("covered file visible: %v", err)
	}
	if err := v.WriteFile("/mnt/in", []byte("inner"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := v.ReadFile("mnt/../mnt/./in"); err != nil || string(b) != "inner" {
		t.Fatalf("read across mount: %q, %v", b, err)
	}
	if _, err := v.Stat("mnt/.."); err != nil {
		t.Fatal(err)
	}
	if err := v.Rename("mnt/in", "out"); !errors.Is(err, vfs.EXDEV) {
		t.Fatalf("rename across mounts: %v, want EXDEV", err)
	}
	if err := v.Remove("mnt"); !errors.Is(err, vfs.EBUSY) {
		t.Fatalf("remove mount point: %v, want EBUSY", err)
	}
	f, err := v.Open("mnt/in")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unmount("mnt"); !errors.Is(err, vfs.EBUSY) {
		t.Fatalf("unmount with open file: %v, want EBUSY", err)
	}
	f.Close()
	if err := v.Unmount("mnt"); err != nil {
		t.Fatal(err)
	}
	if b, err := v.ReadFile("mnt/hidden"); err != nil || string(b) != "under" {
		t.Fatalf("after unmount: %q, %v", b, err)
	}

	// Rename moves cached subtrees; the old names become negative.
	v.MkdirAll("x/y", 0o755)
	v.WriteFile("x/y/z", []byte("zz"), 0o644)
	v.Stat("x/y/z")
	if err := v.Rename("x", "w"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Stat("x/y/z"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old path after rename: %v", err)
	}
	if b, _ := v.ReadFile("w/y/z"); string(b) != "zz" {
		t.Fatalf("new path after rename: %q", b)
	}
	if err := v.Rename("w", "w/y/inside"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("rename into own subtree: %v", err)
	}
	// Remove invalidates; re-creation resolves again.
	v.Remove("w/y/z")
	if _, err := v.Stat("w/y/z"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	v.WriteFile("w/y/z", []byte("again"), 0o644)
	if b, _ := v.ReadFile("w/y/z"); string(b) != "again" {
		t.Fatalf("recreated: %q", b)
	}
}

func TestSymlinks(t *testing.T) {
	v := newMem(t)
	v.MkdirAll("d/e", 0o755)
	v.WriteFile("d/e/f", []byte("target"), 0o644)
	v.Symlink("e/f", "d/rel")
	v.Symlink("/d/e", "abs")
	v.Symlink("loop2", "loop1")
	v.Symlink("loop1", "loop2")
	if b, err := v.ReadFile("d/rel"); err != nil || string(b) != "target" {
		t.Fatalf("relative link: %q, %v", b, err)
	}
	if b, err := v.ReadFile("abs/f"); err != nil || string(b) != "target" {
		t.Fatalf("absolute link in the middle: %q, %v", b, err)
	}
	if st, err := v.Lstat("abs"); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("lstat: %v %v", st, err)
	}
	if _, err := v.Stat("loop1"); !errors.Is(err, vfs.ELOOP) {
		t.Fatalf("loop: %v", err)
	}
	if tgt, _ := v.Readlink("abs"); tgt != "/d/e" {
		t.Fatalf("readlink %q", tgt)
	}
}

func TestFileOffsetsAndUnlinkedOpen(t *testing.T) {
	v := newMem(t)
	f, err := v.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hello "))
	f.Write([]byte("world"))
	f.Seek(0, io.SeekStart)
	b, _ := io.ReadAll(f)
	if string(b) != "hello world" {
		t.Fatalf("read %q", b)
	}
	if err := v.Remove("f"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := f.ReadAt(buf, 6); err != nil || string(buf) != "world" {
		t.Fatalf("unlinked open file: %q %v", buf, err)
	}
	f.Close()
	if _, err := f.ReadAt(buf, 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

// gate is a filesystem whose reads block until released, to count filesystem threads.
type gate struct {
	*memfs.FS
	mu      sync.Mutex
	active  int
	peak    int
	release chan struct{}
}

func (g *gate) CanFastPath(m *vfs.Msg) bool { return m.Op != vfs.OpRead }

func (g *gate) Read(ino vfs.Ino, p []byte, off int64) (int, error) {
	g.mu.Lock()
	g.active++
	g.peak = max(g.peak, g.active)
	g.mu.Unlock()
	<-g.release
	g.mu.Lock()
	g.active--
	g.mu.Unlock()
	return g.FS.Read(ino, p, off)
}

func TestPortThreadsAndFastPath(t *testing.T) {
	g := &gate{FS: memfs.New(fixedNow), release: make(chan struct{})}
	v := vfs.New(g, vfs.MountOptions{Threads: 3}, vfs.Config{})
	defer v.Close()
	v.WriteFile("f", []byte("data"), 0o644)
	port := v.Mounts()[0].Port()
	fast0 := port.FastPath.Load()
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := v.ReadFile("f")
			if err != nil || string(b) != "data" {
				t.Errorf("read %q %v", b, err)
			}
		}()
	}
	// Wait (without sleeping) until the three threads are all blocked inside Read.
	for {
		g.mu.Lock()
		a := g.active
		g.mu.Unlock()
		if a == 3 {
			break
		}
		runtimeGosched()
	}
	close(g.release)
	wg.Wait()
	if g.peak != 3 {
		t.Fatalf("peak concurrency %d, want 3 threads", g.peak)
	}
	if port.Queued.Load() < 5 || port.FastPath.Load() == fast0 {
		t.Fatalf("queued %d, fast path %d", port.Queued.Load(), port.FastPath.Load()-fast0)
	}
	// SendMsg delivers a reply even for fast-path messages.
	reply := make(chan *vfs.Msg, 1)
	port.SendMsg(&vfs.Msg{Op: vfs.OpGetattr, Ino: g.Root()}, reply)
	if m := <-reply; m.Err != nil || m.Attr.Type != vfs.TypeDir {
		t.Fatalf("async getattr: %+v", m)
	}
}
