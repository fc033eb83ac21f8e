package ext2

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"

	"damselfly/vfs"
)

// model is the reference filesystem the random operation sequences are checked against.
type model struct {
	files map[string][]byte // regular files by path
	links map[string]string // symlinks
	dirs  map[string]bool   // directories ("" is the root)
}

func newModel() *model {
	return &model{files: map[string][]byte{}, links: map[string]string{}, dirs: map[string]bool{"": true}}
}

func (m *model) exists(p string) bool {
	_, f := m.files[p]
	_, l := m.links[p]
	return f || l || m.dirs[p]
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func (m *model) children(dir string) []string {
	var out []string
	prefix := join(dir, "")
	if dir != "" {
		prefix = dir + "/"
	}
	add := func(p string) {
		if strings.HasPrefix(p, prefix) && !strings.Contains(p[len(prefix):], "/") && p != dir {
			out = append(out, p[len(prefix):])
		}
	}
	for p := range m.files {
		add(p)
	}
	for p := range m.links {
		add(p)
	}
	for p := range m.dirs {
		if p != "" {
			add(p)
		}
	}
	sort.Strings(out)
	return out
}

// rename moves p and everything under it.
func (m *model) rename(from, to string) {
	move := func(p string) string {
		if p == from {
			return to
		}
		if strings.HasPrefix(p, from+"/") {
			return to + p[len(from):]
		}
		return p
	}
	nf := map[string][]byte{}
	for p, d := range m.files {
		nf[move(p)] = d
	}
	nl := map[string]string{}
	for p, d := range m.links {
		nl[move(p)] = d
	}
	nd := map[string]bool{}
	for p := range m.dirs {
		nd[move(p)] = true
	}
	m.files, m.links, m.dirs = nf, nl, nd
}

func (m *model) pick(r *rand.Rand, kind string) string {
	var all []string
	switch kind {
	case "file":
		for p := range m.files {
			all = append(all, p)
		}
	case "dir":
		for p := range m.dirs {
			all = append(all, p)
		}
	case "any":
		for p := range m.files {
			all = append(all, p)
		}
		for p := range m.links {
			all = append(all, p)
		}
		for p := range m.dirs {
			if p != "" {
				all = append(all, p)
			}
		}
	}
	if len(all) == 0 {
		return ""
	}
	sort.Strings(all)
	return all[r.Intn(len(all))]
}

// checkAgainst compares the whole image tree with the model.
func (m *model) checkAgainst(t *testing.T, f *FS) {
	t.Helper()
	for dir := range m.dirs {
		ino, typ, err := resolve(f, dir)
		if err != nil || typ != vfs.TypeDir {
			t.Fatalf("dir %q: %v (type %v)", dir, err, typ)
		}
		ents, err := listAll(f, ino)
		if err != nil {
			t.Fatalf("readdir %q: %v", dir, err)
		}
		var got []string
		for _, e := range ents {
			if dir == "" && e.Name == "lost+found" {
				continue
			}
			got = append(got, e.Name)
		}
		sort.Strings(got)
		if want := m.children(dir); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("dir %q lists %v, want %v", dir, got, want)
		}
	}
	for p, want := range m.files {
		ino, _, err := resolve(f, p)
		if err != nil {
			t.Fatalf("file %q: %v", p, err)
		}
		got, err := readAll(f, ino, 5000)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("file %q: %d bytes (err %v), want %d", p, len(got), err, len(want))
		}
	}
	for p, want := range m.links {
		ino, _, err := resolve(f, p)
		if err != nil {
			t.Fatalf("link %q: %v", p, err)
		}
		if got, err := f.Readlink(ino); err != nil || got != want {
			t.Fatalf("link %q = %q, %v; want %q", p, got, err, want)
		}
	}
}

func dirIno(t *testing.T, f *FS, dir string) vfs.Ino {
	ino, _, err := resolve(f, dir)
	if err != nil {
		t.Fatalf("resolve %q: %v", dir, err)
	}
	return ino
}

// step applies one random operation to both f and m.
func step(t *testing.T, f *FS, m *model, r *rand.Rand, bs int) string {
	newName := func() string { return fmt.Sprintf("n%d%s", r.Intn(60), strings.Repeat("z", r.Intn(3)*20)) }
	switch op := r.Intn(11); op {
	case 0, 1: // create
		dir := m.pick(r, "dir")
		p := join(dir, newName())
		if m.exists(p) {
			return "skip"
		}
		if _, err := f.Create(dirIno(t, f, dir), p[strings.LastIndexByte("/"+p, '/'):], 0o644); err != nil {
			t.Fatalf("create %q: %v", p, err)
		}
		m.files[p] = nil
		return "create " + p
	case 2, 3, 4: // write
		p := m.pick(r, "file")
		if p == "" {
			return "skip"
		}
		off := int64(r.Intn(3 * bs))
		switch r.Intn(4) {
		case 0:
			off = int64(r.Intn(300 * bs)) // single/double indirect region, leaving holes
		case 1:
			off = int64(len(m.files[p]))
		}
		data := make([]byte, r.Intn(4*bs)+1)
		r.Read(data)
		n, err := f.Write(dirIno(t, f, p), data, off)
		if err != nil || n != len(data) {
			t.Fatalf("write %q at %d: %d, %v", p, off, n, err)
		}
		old := m.files[p]
		if end := off + int64(len(data)); end > int64(len(old)) {
			old = append(old, make([]byte, end-int64(len(old)))...)
		}
		copy(old[off:], data)
		m.files[p] = old
		return fmt.Sprintf("write %s %d+%d", p, off, len(data))
	case 5: // truncate
		p := m.pick(r, "file")
		if p == "" {
			return "skip"
		}
		size := int64(r.Intn(len(m.files[p]) + 2*bs + 1))
		if err := f.Truncate(dirIno(t, f, p), size); err != nil {
			t.Fatalf("truncate %q: %v", p, err)
		}
		old := m.files[p]
		if size <= int64(len(old)) {
			old = old[:size]
		} else {
			old = append(old, make([]byte, size-int64(len(old)))...)
		}
		m.files[p] = append([]byte(nil), old...)
		return fmt.Sprintf("truncate %s %d", p, size)
	case 6: // mkdir
		dir := m.pick(r, "dir")
		p := join(dir, newName())
		if m.exists(p) {
			return "skip"
		}
		if _, err := f.Mkdir(dirIno(t, f, dir), p[strings.LastIndexByte("/"+p, '/'):], 0o755); err != nil {
			t.Fatalf("mkdir %q: %v", p, err)
		}
		m.dirs[p] = true
		return "mkdir " + p
	case 7: // symlink
		dir := m.pick(r, "dir")
		p := join(dir, newName())
		if m.exists(p) {
			return "skip"
		}
		target := strings.Repeat("t", 1+r.Intn(200))
		if _, err := f.Symlink(dirIno(t, f, dir), p[strings.LastIndexByte("/"+p, '/'):], target); err != nil {
			t.Fatalf("symlink %q: %v", p, err)
		}
		m.links[p] = target
		return "symlink " + p
	case 8: // remove or rmdir
		p := m.pick(r, "any")
		if p == "" {
			return "skip"
		}
		dir, name := splitParent(p)
		if m.dirs[p] {
			err := f.Rmdir(dirIno(t, f, dir), name)
			if len(m.children(p)) > 0 {
				if !errors.Is(err, vfs.ENOTEMPTY) {
					t.Fatalf("rmdir non-empty %q: %v", p, err)
				}
				return "rmdir-notempty " + p
			}
			if err != nil {
				t.Fatalf("rmdir %q: %v", p, err)
			}
			delete(m.dirs, p)
			return "rmdir " + p
		}
		if err := f.Remove(dirIno(t, f, dir), name); err != nil {
			t.Fatalf("remove %q: %v", p, err)
		}
		delete(m.files, p)
		delete(m.links, p)
		return "remove " + p
	default: // rename
		from := m.pick(r, "any")
		if from == "" {
			return "skip"
		}
		todir := m.pick(r, "dir")
		to := join(todir, newName())
		if r.Intn(3) == 0 { // onto an existing node
			if e := m.pick(r, "any"); e != "" {
				to = e
			}
		}
		fd, fn := splitParent(from)
		td, tn := splitParent(to)
		err := f.Rename(dirIno(t, f, fd), fn, dirIno(t, f, td), tn)
		srcDir := m.dirs[from]
		switch {
		case from == to:
			if err != nil {
				t.Fatalf("rename %q onto itself: %v", from, err)
			}
			return "rename-self"
		case srcDir && (to == from || strings.HasPrefix(to, from+"/")):
			if !errors.Is(err, vfs.EINVAL) {
				t.Fatalf("rename %q into itself %q: %v", from, to, err)
			}
			return "rename-into-self"
		case m.exists(to) && srcDir && !m.dirs[to]:
			if !errors.Is(err, vfs.ENOTDIR) {
				t.Fatalf("rename dir %q onto file %q: %v", from, to, err)
			}
			return "rename-dir-onto-file"
		case m.exists(to) && !srcDir && m.dirs[to]:
			if !errors.Is(err, vfs.EISDIR) {
				t.Fatalf("rename file %q onto dir %q: %v", from, to, err)
			}
			return "rename-file-onto-dir"
		case m.dirs[to] && len(m.children(to)) > 0:
			if !errors.Is(err, vfs.ENOTEMPTY) {
				t.Fatalf("rename %q onto non-empty %q: %v", from, to, err)
			}
			return "rename-notempty"
		}
		if err != nil {
			t.Fatalf("rename %q -> %q: %v", from, to, err)
		}
		delete(m.files, to)
		delete(m.links, to)
		delete(m.dirs, to)
		m.rename(from, to)
		return "rename " + from + " -> " + to
	}
}

func TestRandomOpsAgainstModel(t *testing.T) {
	for _, bs := range []int{1024, 4096} {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			img := mkfs(t, bs, 32<<20, "")
			f := mount(t, img, false)
			m := newModel()
			r := rand.New(rand.NewSource(int64(bs) * 7))
			var hist []string
			for i := 0; i < 600; i++ {
				hist = append(hist, step(t, f, m, r, bs))
				if i%150 == 149 {
					m.checkAgainst(t, f)
				}
			}
			m.checkAgainst(t, f)
			kinds := map[string]int{}
			for _, h := range hist {
				kinds[strings.Fields(h)[0]]++
			}
			for _, k := range []string{"create", "write", "truncate", "mkdir", "symlink", "remove", "rmdir", "rename"} {
				if kinds[k] < 5 {
					t.Errorf("only %d %s operations ran: %v", kinds[k], k, kinds)
				}
			}
			if err := f.Unmount(); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)
			// The image reads back the same after a fresh mount.
			m.checkAgainst(t, mount(t, img, true))
			if t.Failed() {
				t.Logf("last ops: %v", hist[max(0, len(hist)-20):])
			}
		})
	}
}

// TestWriteOnPopulatedImage changes a mke2fs -d image (including an htree-indexed directory
// produced by e2fsck -D) and checks it stays clean.
func TestWriteOnPopulatedImage(t *testing.T) {
	src := t.TempDir()
	genTree(t, src, 1024, false, 1200)
	img := mkfs(t, 1024, 96<<20, src, "-N", "8192")
	// Index the directories, as a disk touched by Linux's ext4 driver would have them.
	if out, err := exec.Command("e2fsck", "-fyD", img).CombinedOutput(); err != nil && !strings.Contains(string(out), "MODIFIED") {
		t.Logf("e2fsck -fyD: %v\n%s", err, out)
	}
	out, _ := exec.Command("debugfs", "-R", "htree /wide", img).CombinedOutput()
	indexed := !strings.Contains(string(out), "Not a hash-indexed")
	f := mount(t, img, false)
	wide := dirIno(t, f, "wide")
	for i := 0; i < 1200; i += 3 {
		if err := f.Remove(wide, fmt.Sprintf("entry-%04d-%s", i, strings.Repeat("x", i%40))); err != nil {
			t.Fatalf("remove %d: %v", i, err)
		}
	}
	for i := 0; i < 500; i++ {
		if _, err := f.Create(wide, fmt.Sprintf("new-%d", i), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := listAll(f, wide)
	if err != nil || len(ents) != 800+500 {
		t.Fatalf("wide lists %d entries (%v), want 1300", len(ents), err)
	}
	// Grow a file into the double-indirect region, shrink another.
	big := dirIno(t, f, "indirect/double")
	if err := f.Truncate(big, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(dirIno(t, f, "sizes/f1"), bytes.Repeat([]byte("q"), 400*1024), 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if indexed && f.Stats().IndexFlagsCleared == 0 {
		t.Errorf("htree directory changed but index flag never cleared")
	}
	t.Logf("wide was htree-indexed: %v; stats %+v", indexed, f.Stats())
	fsck(t, img)
}

// TestLargeFile writes past 4 GiB and checks i_size_high and the large_file feature.
func TestLargeFile(t *testing.T) {
	img := mkfs(t, 4096, 16<<20, "", "-O", "^large_file")
	f := mount(t, img, false)
	ino, err := f.Create(f.Root(), "big", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(5<<30 + 123)
	if _, err := f.Write(ino, []byte("tail"), off); err != nil {
		t.Fatal(err)
	}
	a, _ := f.Getattr(ino)
	if a.Size != off+4 {
		t.Fatalf("size %d, want %d", a.Size, off+4)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
	f = mount(t, img, true)
	buf := make([]byte, 10)
	n, _ := f.Read(ino, buf, off-6)
	if string(buf[:n]) != "\x00\x00\x00\x00\x00\x00tail" {
		t.Fatalf("read back %q", buf[:n])
	}
	if f.sb.FeatureRoCompat()&roCompatLargeFile == 0 {
		t.Fatal("large_file feature not set")
	}
}

// TestOpenUnlinked keeps an unlinked file readable until its last Close.
func TestOpenUnlinked(t *testing.T) {
	img := mkfs(t, 1024, 4<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "tmp", 0o644)
	f.Write(ino, bytes.Repeat([]byte("a"), 5000), 0)
	if err := f.Open(ino); err != nil {
		t.Fatal(err)
	}
	freeBefore := f.sb.FreeBlocksCount()
	if err := f.Remove(f.Root(), "tmp"); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(f, ino, 999); err != nil || len(got) != 5000 {
		t.Fatalf("unlinked open file reads %d bytes, %v", len(got), err)
	}
	if f.sb.FreeBlocksCount() != freeBefore {
		t.Fatal("blocks freed while still open")
	}
	if err := f.Close(ino); err != nil {
		t.Fatal(err)
	}
	if f.sb.FreeBlocksCount() <= freeBefore {
		t.Fatal("blocks not freed at last close")
	}
	f.Unmount()
	fsck(t, img)
}

// TestConcurrentFile runs writers on disjoint ranges of one file beside readers that check
// every range they read is one whole write (no torn reads), then checks the image.
func TestConcurrentFile(t *testing.T) {
	img := mkfs(t, 4096, 16<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "shared", 0o644)
	const chunk = 3*4096 + 100 // unaligned, spanning blocks
	const writers, rounds = 4, 40
	if _, err := f.Write(ino, make([]byte, chunk*writers), 0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, chunk)
			for i := 1; i <= rounds; i++ {
				for j := range buf {
					buf[j] = byte(w*rounds + i)
				}
				if _, err := f.Write(ino, buf, int64(w*chunk)); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	for rd := 0; rd < 3; rd++ {
		wg.Add(1)
		go func(rd int) {
			defer wg.Done()
			buf := make([]byte, chunk)
			for i := 0; i < rounds*2; i++ {
				w := (i + rd) % writers
				if _, err := f.Read(ino, buf, int64(w*chunk)); err != nil {
					errc <- err
					return
				}
				for j := range buf {
					if buf[j] != buf[0] {
						errc <- fmt.Errorf("torn read of range %d: byte %d is %d, byte 0 is %d", w, j, buf[j], buf[0])
						return
					}
				}
			}
		}(rd)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	got, _ := readAll(f, ino, 1<<16)
	for w := 0; w < writers; w++ {
		if got[w*chunk] != byte(w*rounds+rounds) {
			t.Errorf("range %d ends with round %d", w, got[w*chunk])
		}
	}
	f.Unmount()
	fsck(t, img)
}

// TestFillDisk runs out of space cleanly: ENOSPC, then everything freed again is consistent.
func TestFillDisk(t *testing.T) {
	img := mkfs(t, 1024, 2<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "fill", 0o644)
	var err error
	for off := int64(0); err == nil; off += 64 << 10 {
		_, err = f.Write(ino, make([]byte, 64<<10), off)
	}
	if !errors.Is(err, vfs.ENOSPC) {
		t.Fatalf("filling: %v, want ENOSPC", err)
	}
	f.Sync()
	fsck(t, img)
	if err := f.Remove(f.Root(), "fill"); err != nil {
		t.Fatal(err)
	}
	f.Unmount()
	fsck(t, img)
	_ = os.Remove
}

// TestConcurrentWritesShareBlock has many writers fill disjoint byte ranges of the same
// unallocated blocks; the zero padding of a freshly allocated block must never erase another
// writer's bytes.
func TestConcurrentWritesShareBlock(t *testing.T) {
	img := mkfs(t, 4096, 8<<20, "")
	f := mount(t, img, false)
	for round := 0; round < 5; round++ {
		ino, _ := f.Create(f.Root(), fmt.Sprintf("f%d", round), 0o644)
		const writers, piece = 8, 512 // eight writers share each 4 KiB block
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for blk := 0; blk < 4; blk++ {
					off := int64(blk*4096 + w*piece)
					f.Write(ino, bytes.Repeat([]byte{byte(w + 1)}, piece), off)
				}
			}(w)
		}
		wg.Wait()
		got, _ := readAll(f, ino, 1<<16)
		for i, b := range got {
			if want := byte((i%4096)/piece + 1); b != want {
				t.Fatalf("round %d: byte %d is %d, want %d", round, i, b, want)
			}
		}
	}
	f.Unmount()
	fsck(t, img)
}

// TestUnmountReleasesOrphans unmounts with an unlinked file still open: the unmount frees it,
// so e2fsck finds no orphan.
func TestUnmountReleasesOrphans(t *testing.T) {
	img := mkfs(t, 1024, 4<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "orphan", 0o644)
	f.Write(ino, make([]byte, 20000), 0)
	f.Open(ino)
	if err := f.Remove(f.Root(), "orphan"); err != nil {
		t.Fatal(err)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}
