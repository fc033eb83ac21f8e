package vfs

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// checkInvariants verifies the namecache invariants listed in namecache.go.
func (v *VFS) checkInvariants() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	seen := 0
	var walk func(e *ncEntry, depth int) error
	walk = func(e *ncEntry, depth int) error {
		if depth > 10000 {
			return errors.New("cycle")
		}
		if e.mounted != nil {
			if e.state != ncResolved {
				return fmt.Errorf("mount point %q not resolved", e.name)
			}
			for a := e; a.parent != nil; a = a.parent {
				if a.state != ncResolved {
					return fmt.Errorf("ancestor %q of a mount point not resolved", a.name)
				}
			}
			if err := walk(e.mounted.root, depth+1); err != nil {
				return err
			}
		}
		if e.state == ncNegative && len(e.children) > 0 {
			return fmt.Errorf("negative entry %q has children", e.name)
		}
		for name, ch := range e.children {
			if ch.parent != e || ch.name != name {
				return fmt.Errorf("entry %q: bad parent link", name)
			}
			if ch.lru == nil {
				return fmt.Errorf("entry %q not on the LRU list", name)
			}
			seen++
			if err := walk(ch, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v.root.root, 0); err != nil {
		return err
	}
	if seen != v.nc.count || v.nc.lru.Len() != v.nc.count {
		return fmt.Errorf("count %d, reachable %d, lru %d", v.nc.count, seen, v.nc.lru.Len())
	}
	return nil
}

// TestNamecacheCoherent runs random namespace operations through a namespace with a tiny
// cache (constant eviction) and, after each, compares what every path in a small universe
// resolves to with a namespace over the same filesystem that has a cold cache.
func TestNamecacheCoherent(t *testing.T) {
	fsys := newMapFS()
	v := New(fsys, MountOptions{Threads: 1}, Config{NamecacheMax: 12})
	defer v.Close()
	r := rand.New(rand.NewSource(5))
	names := []string{"a", "b", "c"}
	var universe []string
	for _, x := range names {
		universe = append(universe, x)
		for _, y := range names {
			universe = append(universe, x+"/"+y)
			for _, z := range names {
				universe = append(universe, x+"/"+y+"/"+z)
			}
		}
	}
	pick := func() string { return universe[r.Intn(len(universe))] }
	for step := 0; step < 1500; step++ {
		p := pick()
		switch r.Intn(6) {
		case 0:
			v.Mkdir(p, 0o755)
		case 1:
			v.WriteFile(p, []byte(p), 0o644)
		case 2:
			v.Remove(p)
		case 3:
			v.Rename(p, pick())
		case 4:
			v.Symlink(pick(), p)
		default:
			v.Stat(p)
		}
		if err := v.checkInvariants(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		cold := New(fsys, MountOptions{Threads: 1}, Config{})
		for _, q := range universe {
			a, errA := v.Lstat(q)
			b, errB := cold.Lstat(q)
			if (errA == nil) != (errB == nil) || (errA == nil && (a.Mode() != b.Mode() || a.Sys().(*Attr).Ino != b.Sys().(*Attr).Ino)) {
				t.Fatalf("step %d: %s: cached %v/%v, cold %v/%v", step, q, a, errA, b, errB)
			}
		}
		cold.mu.Lock()
		cold.closed = true
		cold.mu.Unlock()
		cold.root.port.close()
	}
	if s := v.NamecacheStats(); s.Evictions == 0 || s.NegHits == 0 || s.Hits == 0 {
		t.Fatalf("cache paths not exercised: %+v", s)
	}
}

// mapFS is a minimal in-package filesystem (the vfs package cannot import memfs in its own
// tests): directories, files and symlinks in maps, every operation on the fast path.
type mapFS struct {
	nodes map[Ino]*mapNode
	next  Ino
}

type mapNode struct {
	typ    Type
	kids   map[string]Ino
	data   []byte
	target string
	nlink  uint32
}

func newMapFS() *mapFS {
	return &mapFS{nodes: map[Ino]*mapNode{1: {typ: TypeDir, kids: map[string]Ino{}, nlink: 2}}, next: 2}
}

func (m *mapFS) CanFastPath(*Msg) bool { return true }
func (m *mapFS) Root() Ino             { return 1 }

func (m *mapFS) Lookup(dir Ino, names []string) ([]LookupResult, error) {
	var out []LookupResult
	for _, n := range names {
		d := m.nodes[dir]
		if d == nil || d.typ != TypeDir {
			return out, ENOTDIR
		}
		ino, ok := d.kids[n]
		if !ok {
			return out, ENOENT
		}
		out = append(out, LookupResult{Ino: ino, Type: m.nodes[ino].typ})
		if m.nodes[ino].typ != TypeDir {
			break
		}
		dir = ino
	}
	return out, nil
}

func (m *mapFS) Getattr(ino Ino) (Attr, error) {
	n := m.nodes[ino]
	if n == nil {
		return Attr{}, ENOENT
	}
	return Attr{Ino: ino, Type: n.typ, Perm: 0o644, Nlink: n.nlink, Size: int64(len(n.data))}, nil
}

func (m *mapFS) add(dir Ino, name string, n *mapNode) (Ino, error) {
	d := m.nodes[dir]
	if d == nil || d.typ != TypeDir {
		return 0, ENOTDIR
	}
	if _, ok := d.kids[name]; ok {
		return 0, EEXIST
	}
	ino := m.next
	m.next++
	m.nodes[ino] = n
	d.kids[name] = ino
	return ino, nil
}

func (m *mapFS) Create(dir Ino, name string, perm uint32) (Ino, error) {
	return m.add(dir, name, &mapNode{typ: TypeRegular, nlink: 1})
}
func (m *mapFS) Mkdir(dir Ino, name string, perm uint32) (Ino, error) {
	return m.add(dir, name, &mapNode{typ: TypeDir, kids: map[string]Ino{}, nlink: 2})
}
func (m *mapFS) Symlink(dir Ino, name, target string) (Ino, error) {
	return m.add(dir, name, &mapNode{typ: TypeSymlink, target: target, nlink: 1})
}

func (m *mapFS) unlink(dir Ino, name string, wantDir bool) error {
	d := m.nodes[dir]
	ino, ok := d.kids[name]
	if !ok {
		return ENOENT
	}
	n := m.nodes[ino]
	if wantDir != (n.typ == TypeDir) {
		if wantDir {
			return ENOTDIR
		}
		return EISDIR
	}
	if wantDir && len(n.kids) > 0 {
		return ENOTEMPTY
	}
	delete(d.kids, name)
	return nil
}

func (m *mapFS) Remove(dir Ino, name string) error { return m.unlink(dir, name, false) }
func (m *mapFS) Rmdir(dir Ino, name string) error  { return m.unlink(dir, name, true) }

func (m *mapFS) Rename(fd Ino, fn string, td Ino, tn string) error {
	ino, ok := m.nodes[fd].kids[fn]
	if !ok {
		return ENOENT
	}
	n := m.nodes[ino]
	if n.typ == TypeDir { // not into its own subtree
		var below func(Ino) bool
		below = func(x Ino) bool {
			if x == td {
				return true
			}
			for _, k := range m.nodes[x].kids {
				if m.nodes[k].typ == TypeDir && below(k) {
					return true
				}
			}
			return false
		}
		if below(ino) {
			return EINVAL
		}
	}
	if old, ok := m.nodes[td].kids[tn]; ok {
		if old == ino {
			return nil
		}
		o := m.nodes[old]
		switch {
		case n.typ == TypeDir && o.typ != TypeDir:
			return ENOTDIR
		case n.typ != TypeDir && o.typ == TypeDir:
			return EISDIR
		case o.typ == TypeDir && len(o.kids) > 0:
			return ENOTEMPTY
		}
	}
	delete(m.nodes[fd].kids, fn)
	m.nodes[td].kids[tn] = ino
	return nil
}

func (m *mapFS) Readdir(dir Ino, cookie uint64, max int) ([]DirEntry, uint64, error) {
	return nil, cookie, nil
}

func (m *mapFS) Readlink(ino Ino) (string, error) {
	if n := m.nodes[ino]; n != nil && n.typ == TypeSymlink {
		return n.target, nil
	}
	return "", EINVAL
}

func (m *mapFS) Write(ino Ino, p []byte, off int64) (int, error) {
	n := m.nodes[ino]
	if end := int(off) + len(p); end > len(n.data) {
		n.data = append(n.data, make([]byte, end-len(n.data))...)
	}
	copy(n.data[off:], p)
	return len(p), nil
}

func (m *mapFS) Read(ino Ino, p []byte, off int64) (int, error) { return 0, EINVAL }
func (m *mapFS) Setattr(ino Ino, set SetAttr) error {
	if set.Size != nil {
		m.nodes[ino].data = m.nodes[ino].data[:0]
	}
	return nil
}
func (m *mapFS) Truncate(ino Ino, size int64) error       { return m.Setattr(ino, SetAttr{Size: &size}) }
func (m *mapFS) Link(ino Ino, dir Ino, name string) error { return ENOTSUP }
func (m *mapFS) Open(Ino) error                           { return nil }
func (m *mapFS) Close(Ino) error                          { return nil }
func (m *mapFS) Fsync(Ino) error                          { return nil }
func (m *mapFS) Sync() error                              { return nil }
func (m *mapFS) Unmount() error                           { return nil }
