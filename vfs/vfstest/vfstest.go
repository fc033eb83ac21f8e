// Package vfstest checks a vfs.Filesystem against a reference model, as testing/fstest does
// for io/fs: random sequences of VOPs (create, write, truncate, mkdir, symlink, remove, rmdir,
// rename, including the error cases) are applied to the filesystem and to an in-memory model,
// and the whole tree is compared. Filesystems run it from their tests; ext2 adds e2fsck.
package vfstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"damselfly/vfs"
)

// Options tune RandomOps.
type Options struct {
	Seed       int64
	Ops        int
	BlockSize  int      // scales write sizes and offsets (holes, indirect regions)
	IgnoreRoot []string // root entries present before the run (lost+found)
}

// Model is the expected state after RandomOps; Check compares a filesystem with it.
type Model struct{ m *model }

// RandomOps runs opts.Ops random operations on fsys, checking the tree against the model
// every 150 operations and at the end, and checks that every kind of operation ran.
func RandomOps(t testing.TB, fsys vfs.Filesystem, opts Options) *Model {
	t.Helper()
	m := newModel()
	for _, n := range opts.IgnoreRoot {
		m.ignoreRoot[n] = true
	}
	r := rand.New(rand.NewSource(opts.Seed))
	var hist []string
	for i := 0; i < opts.Ops; i++ {
		hist = append(hist, step(t, fsys, m, r, opts.BlockSize))
		if i%150 == 149 {
			m.checkAgainst(t, fsys)
		}
	}
	m.checkAgainst(t, fsys)
	kinds := map[string]int{}
	for _, h := range hist {
		kinds[strings.Fields(h)[0]]++
	}
	for _, k := range []string{"create", "write", "truncate", "mkdir", "symlink", "remove", "rmdir", "rename"} {
		if kinds[k] < 5 {
			t.Errorf("only %d %s operations ran: %v", kinds[k], k, kinds)
		}
	}
	if t.Failed() {
		t.Logf("last ops: %v", hist[max(0, len(hist)-20):])
	}
	return &Model{m}
}

// Check compares fsys (for example the same disk mounted again) with the model.
func (md *Model) Check(t testing.TB, fsys vfs.Filesystem) {
	t.Helper()
	md.m.checkAgainst(t, fsys)
}

// Resolve walks a slash-separated path from the root with one Lookup.
func Resolve(fsys vfs.Filesystem, path string) (vfs.Ino, vfs.Type, error) {
	path = strings.Trim(path, "/")
	if path == "" {
		return fsys.Root(), vfs.TypeDir, nil
	}
	names := strings.Split(path, "/")
	res, err := fsys.Lookup(fsys.Root(), names)
	if err != nil {
		return 0, 0, err
	}
	if len(res) != len(names) {
		return 0, 0, fmt.Errorf("%s: stopped after %d components: %w", path, len(res), vfs.ENOTDIR)
	}
	last := res[len(res)-1]
	return last.Ino, last.Type, nil
}

func splitParent(path string) (string, string) {
	path = strings.Trim(path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// ReadAll reads a whole file through Read in chunks of chunk bytes.
func ReadAll(fsys vfs.Filesystem, ino vfs.Ino, chunk int) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, chunk)
	for off := int64(0); ; {
		n, err := fsys.Read(ino, buf, off)
		out.Write(buf[:n])
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ListAll reads a whole directory in small Readdir batches, exercising cookies.
func ListAll(fsys vfs.Filesystem, dir vfs.Ino) ([]vfs.DirEntry, error) {
	var out []vfs.DirEntry
	cookie := uint64(0)
	for i := 0; i < 1_000_000; i++ {
		ents, next, err := fsys.Readdir(dir, cookie, 7)
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 {
			return out, nil
		}
		out = append(out, ents...)
		cookie = next
	}
	return nil, errors.New("readdir does not terminate")
}

// model is the reference filesystem the random operation sequences are checked against.
type model struct {
	files      map[string][]byte // regular files by path
	links      map[string]string // symlinks
	dirs       map[string]bool   // directories ("" is the root)
	ignoreRoot map[string]bool   // root entries the model does not track (lost+found)
}

func newModel() *model {
	return &model{files: map[string][]byte{}, links: map[string]string{}, dirs: map[string]bool{"": true}, ignoreRoot: map[string]bool{}}
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
	case "emptydir":
		for p := range m.dirs {
			if p != "" && len(m.children(p)) == 0 {
				all = append(all, p)
			}
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
func (m *model) checkAgainst(t testing.TB, f vfs.Filesystem) {
	t.Helper()
	for dir := range m.dirs {
		ino, typ, err := Resolve(f, dir)
		if err != nil || typ != vfs.TypeDir {
			t.Fatalf("dir %q: %v (type %v)", dir, err, typ)
		}
		ents, err := ListAll(f, ino)
		if err != nil {
			t.Fatalf("readdir %q: %v", dir, err)
		}
		var got []string
		for _, e := range ents {
			if dir == "" && m.ignoreRoot[e.Name] {
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
		ino, _, err := Resolve(f, p)
		if err != nil {
			t.Fatalf("file %q: %v", p, err)
		}
		got, err := ReadAll(f, ino, 5000)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("file %q: %d bytes (err %v), want %d", p, len(got), err, len(want))
		}
	}
	for p, want := range m.links {
		ino, _, err := Resolve(f, p)
		if err != nil {
			t.Fatalf("link %q: %v", p, err)
		}
		if got, err := f.Readlink(ino); err != nil || got != want {
			t.Fatalf("link %q = %q, %v; want %q", p, got, err, want)
		}
	}
}

func dirIno(t testing.TB, f vfs.Filesystem, dir string) vfs.Ino {
	ino, _, err := Resolve(f, dir)
	if err != nil {
		t.Fatalf("resolve %q: %v", dir, err)
	}
	return ino
}

// step applies one random operation to both f and m.
func step(t testing.TB, f vfs.Filesystem, m *model, r *rand.Rand, bs int) string {
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
		if r.Intn(2) == 0 {
			p = m.pick(r, "emptydir")
		}
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
