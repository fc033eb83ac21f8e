// Package memfs is an in-memory filesystem whose regular files are VM objects (damselfly/vm)
// over an anonymous, zero-filled pager: the object's pages are the file. It is the root
// filesystem when no disk is given.
//
// Every operation completes without blocking on I/O, so memfs asks for the synchronous fast
// path on every VOP (vfs.FastPather): messages run in the sender's context.
package memfs

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"damselfly/vfs"
	"damselfly/vm"
)

// anonPager backs memfs objects: never-written pages read as zeros, and nothing is ever
// written back because memfs objects have no page budget (nil pool), so pages are never
// evicted.
type anonPager struct{}

func (anonPager) ReadPages(off int64, p []byte) error  { clear(p); return nil }
func (anonPager) WritePages(off int64, p []byte) error { return nil }
func (anonPager) Size() int64                          { return 0 }

type node struct {
	ino    vfs.Ino
	typ    vfs.Type
	perm   uint32
	nlink  uint32
	uid    uint32
	gid    uint32
	atime  time.Time
	mtime  time.Time
	ctime  time.Time
	obj    *vm.Object         // regular files
	kids   map[string]vfs.Ino // directories
	sorted []string           // directories: names in order, nil when stale
	parent vfs.Ino            // directories
	target string             // symlinks
	opens  int
}

// FS is an in-memory filesystem. Its node table and directory contents are guarded by mu;
// file data by each VM object's own range locks.
type FS struct {
	mu    sync.RWMutex
	nodes map[vfs.Ino]*node
	next  vfs.Ino
	now   func() time.Time
}

const rootIno vfs.Ino = 1

// New returns an empty filesystem; now supplies timestamps (nil: time.Now).
func New(now func() time.Time) *FS {
	if now == nil {
		now = time.Now
	}
	f := &FS{nodes: make(map[vfs.Ino]*node), next: rootIno + 1, now: now}
	t := now()
	f.nodes[rootIno] = &node{ino: rootIno, typ: vfs.TypeDir, perm: 0o755, nlink: 2, kids: map[string]vfs.Ino{},
		parent: rootIno, atime: t, mtime: t, ctime: t}
	return f
}

var (
	_ vfs.Filesystem = (*FS)(nil)
	_ vfs.FastPather = (*FS)(nil)
)

// CanFastPath: memory never blocks, every VOP runs in the caller's context.
func (f *FS) CanFastPath(*vfs.Msg) bool { return true }

func (f *FS) Root() vfs.Ino { return rootIno }

func (f *FS) get(ino vfs.Ino) (*node, error) {
	n := f.nodes[ino]
	if n == nil {
		return nil, fmt.Errorf("memfs: inode %d: %w", ino, vfs.ENOENT)
	}
	return n, nil
}

func (f *FS) dir(ino vfs.Ino) (*node, error) {
	n, err := f.get(ino)
	if err != nil {
		return nil, err
	}
	if n.typ != vfs.TypeDir {
		return nil, fmt.Errorf("memfs: inode %d: %w", ino, vfs.ENOTDIR)
	}
	return n, nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("memfs: name %q: %w", name, vfs.EINVAL)
	}
	if len(name) > 255 {
		return fmt.Errorf("memfs: name: %w", vfs.ENAMETOOLONG)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return fmt.Errorf("memfs: name %q: %w", name, vfs.EINVAL)
		}
	}
	return nil
}

func (f *FS) Lookup(dir vfs.Ino, names []string) ([]vfs.LookupResult, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]vfs.LookupResult, 0, len(names))
	cur := dir
	for _, name := range names {
		d, err := f.dir(cur)
		if err != nil {
			return out, err
		}
		ino, ok := d.kids[name]
		if !ok {
			return out, fmt.Errorf("memfs: %q: %w", name, vfs.ENOENT)
		}
		n := f.nodes[ino]
		out = append(out, vfs.LookupResult{Ino: ino, Type: n.typ})
		if n.typ != vfs.TypeDir {
			break
		}
		cur = ino
	}
	return out, nil
}

func (f *FS) Getattr(ino vfs.Ino) (vfs.Attr, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, err := f.get(ino)
	if err != nil {
		return vfs.Attr{}, err
	}
	a := vfs.Attr{Ino: ino, Type: n.typ, Perm: permMode(n.perm), Nlink: n.nlink, UID: n.uid, GID: n.gid,
		Atime: n.atime, Mtime: n.mtime, Ctime: n.ctime}
	switch n.typ {
	case vfs.TypeRegular:
		a.Size = n.obj.Size()
		pages, _ := n.obj.Resident()
		a.Blocks = int64(pages) * vm.PageSize
	case vfs.TypeSymlink:
		a.Size = int64(len(n.target))
	case vfs.TypeDir:
		a.Size = int64(len(n.kids))
	}
	return a, nil
}

func (f *FS) Setattr(ino vfs.Ino, set vfs.SetAttr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ino)
	if err != nil {
		return err
	}
	if set.Size != nil {
		if n.typ != vfs.TypeRegular {
			return fmt.Errorf("memfs: truncate inode %d: %w", ino, vfs.EINVAL)
		}
		if err := n.obj.Truncate(*set.Size); err != nil {
			return fmt.Errorf("memfs: %w: %w", err, vfs.EINVAL)
		}
		n.mtime = f.now()
	}
	if set.Perm != nil {
		n.perm = posixPerm(*set.Perm)
	}
	if set.UID != nil {
		n.uid = *set.UID
	}
	if set.GID != nil {
		n.gid = *set.GID
	}
	if set.Atime != nil {
		n.atime = *set.Atime
	}
	if set.Mtime != nil {
		n.mtime = *set.Mtime
	}
	n.ctime = f.now()
	return nil
}

// file returns a regular file's VM object.
func (f *FS) file(ino vfs.Ino) (*vm.Object, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, err := f.get(ino)
	if err != nil {
		return nil, err
	}
	switch n.typ {
	case vfs.TypeRegular:
		return n.obj, nil
	case vfs.TypeDir:
		return nil, fmt.Errorf("memfs: inode %d: %w", ino, vfs.EISDIR)
	}
	return nil, fmt.Errorf("memfs: inode %d: %w", ino, vfs.EINVAL)
}

func (f *FS) Read(ino vfs.Ino, p []byte, off int64) (int, error) {
	obj, err := f.file(ino)
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("memfs: read at %d: %w", off, vfs.EINVAL)
	}
	size := obj.Size()
	if off >= size {
		return 0, io.EOF
	}
	if rest := size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := obj.ReadAt(p, off)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *FS) Write(ino vfs.Ino, p []byte, off int64) (int, error) {
	obj, err := f.file(ino)
	if err != nil {
		return 0, err
	}
	if off < 0 || off+int64(len(p)) < off {
		return 0, fmt.Errorf("memfs: write at %d: %w", off, vfs.EINVAL)
	}
	n, err := obj.WriteAt(p, off)
	f.mu.Lock()
	if nd := f.nodes[ino]; nd != nil {
		nd.mtime = f.now()
		nd.ctime = nd.mtime
	}
	f.mu.Unlock()
	return n, err
}

func (f *FS) Truncate(ino vfs.Ino, size int64) error {
	return f.Setattr(ino, vfs.SetAttr{Size: &size})
}

// add creates a node under dir. f.mu held.
func (f *FS) add(dir vfs.Ino, name string, n *node) (vfs.Ino, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	d, err := f.dir(dir)
	if err != nil {
		return 0, err
	}
	if _, ok := d.kids[name]; ok {
		return 0, fmt.Errorf("memfs: %q: %w", name, vfs.EEXIST)
	}
	n.ino = f.next
	f.next++
	t := f.now()
	n.atime, n.mtime, n.ctime = t, t, t
	f.nodes[n.ino] = n
	d.kids[name] = n.ino
	d.sorted = nil
	d.mtime, d.ctime = t, t
	if n.typ == vfs.TypeDir {
		d.nlink++
	}
	return n.ino, nil
}

func (f *FS) Create(dir vfs.Ino, name string, perm uint32) (vfs.Ino, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.add(dir, name, &node{typ: vfs.TypeRegular, perm: perm & 0o7777, nlink: 1,
		obj: vm.NewObject(fmt.Sprintf("memfs:%d", f.next), anonPager{}, nil)})
}

func (f *FS) Mkdir(dir vfs.Ino, name string, perm uint32) (vfs.Ino, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.add(dir, name, &node{typ: vfs.TypeDir, perm: perm & 0o7777, nlink: 2, kids: map[string]vfs.Ino{}, parent: dir})
}

func (f *FS) Symlink(dir vfs.Ino, name, target string) (vfs.Ino, error) {
	if target == "" || len(target) > 4095 {
		return 0, fmt.Errorf("memfs: symlink target of %d bytes: %w", len(target), vfs.ENAMETOOLONG)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.add(dir, name, &node{typ: vfs.TypeSymlink, perm: 0o777, nlink: 1, target: target})
}

func (f *FS) Link(ino vfs.Ino, dir vfs.Ino, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ino)
	if err != nil {
		return err
	}
	if n.typ == vfs.TypeDir {
		return fmt.Errorf("memfs: link to directory: %w", vfs.EPERM)
	}
	d, err := f.dir(dir)
	if err != nil {
		return err
	}
	if _, ok := d.kids[name]; ok {
		return fmt.Errorf("memfs: %q: %w", name, vfs.EEXIST)
	}
	d.kids[name] = ino
	d.sorted = nil
	n.nlink++
	n.ctime = f.now()
	return nil
}

// drop removes one link of n, freeing it when nothing references it. f.mu held.
func (f *FS) drop(n *node) {
	if n.typ == vfs.TypeDir {
		n.nlink = 0
	} else if n.nlink > 0 {
		n.nlink--
	}
	if n.nlink == 0 && n.opens == 0 {
		delete(f.nodes, n.ino)
	}
}

func (f *FS) unlink(dir vfs.Ino, name string, wantDir bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.dir(dir)
	if err != nil {
		return err
	}
	ino, ok := d.kids[name]
	if !ok {
		return fmt.Errorf("memfs: %q: %w", name, vfs.ENOENT)
	}
	n := f.nodes[ino]
	switch {
	case wantDir && n.typ != vfs.TypeDir:
		return fmt.Errorf("memfs: %q: %w", name, vfs.ENOTDIR)
	case !wantDir && n.typ == vfs.TypeDir:
		return fmt.Errorf("memfs: %q: %w", name, vfs.EISDIR)
	case wantDir && len(n.kids) > 0:
		return fmt.Errorf("memfs: %q: %w", name, vfs.ENOTEMPTY)
	}
	delete(d.kids, name)
	d.sorted = nil
	d.mtime = f.now()
	if n.typ == vfs.TypeDir {
		d.nlink--
	}
	f.drop(n)
	return nil
}

func (f *FS) Remove(dir vfs.Ino, name string) error { return f.unlink(dir, name, false) }
func (f *FS) Rmdir(dir vfs.Ino, name string) error  { return f.unlink(dir, name, true) }

func (f *FS) Rename(fromDir vfs.Ino, fromName string, toDir vfs.Ino, toName string) error {
	if err := checkName(fromName); err != nil {
		return err
	}
	if err := checkName(toName); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sd, err := f.dir(fromDir)
	if err != nil {
		return err
	}
	td, err := f.dir(toDir)
	if err != nil {
		return err
	}
	ino, ok := sd.kids[fromName]
	if !ok {
		return fmt.Errorf("memfs: %q: %w", fromName, vfs.ENOENT)
	}
	n := f.nodes[ino]
	if n.typ == vfs.TypeDir {
		// Refuse moving a directory below itself: walk up from the target.
		for cur, steps := toDir, 0; ; steps++ {
			if cur == ino {
				return fmt.Errorf("memfs: rename %q into itself: %w", fromName, vfs.EINVAL)
			}
			if cur == rootIno || steps > len(f.nodes) {
				break
			}
			cur = f.nodes[cur].parent
		}
	}
	if old, ok := td.kids[toName]; ok {
		if old == ino {
			return nil
		}
		o := f.nodes[old]
		switch {
		case n.typ == vfs.TypeDir && o.typ != vfs.TypeDir:
			return fmt.Errorf("memfs: %q: %w", toName, vfs.ENOTDIR)
		case n.typ != vfs.TypeDir && o.typ == vfs.TypeDir:
			return fmt.Errorf("memfs: %q: %w", toName, vfs.EISDIR)
		case o.typ == vfs.TypeDir && len(o.kids) > 0:
			return fmt.Errorf("memfs: %q: %w", toName, vfs.ENOTEMPTY)
		}
		if o.typ == vfs.TypeDir {
			td.nlink--
		}
		f.drop(o)
	}
	delete(sd.kids, fromName)
	td.kids[toName] = ino
	sd.sorted, td.sorted = nil, nil
	if n.typ == vfs.TypeDir && fromDir != toDir {
		n.parent = toDir
		sd.nlink--
		td.nlink++
	}
	t := f.now()
	sd.mtime, td.mtime, n.ctime = t, t, t
	return nil
}

func (f *FS) Readdir(dir vfs.Ino, cookie uint64, max int) ([]vfs.DirEntry, uint64, error) {
	f.mu.Lock() // the sorted name cache may be rebuilt
	defer f.mu.Unlock()
	d, err := f.dir(dir)
	if err != nil {
		return nil, 0, err
	}
	if d.sorted == nil {
		d.sorted = make([]string, 0, len(d.kids))
		for name := range d.kids {
			d.sorted = append(d.sorted, name)
		}
		sort.Strings(d.sorted)
	}
	if max <= 0 {
		max = 128
	}
	var out []vfs.DirEntry
	i := cookie
	for ; i < uint64(len(d.sorted)) && len(out) < max; i++ {
		name := d.sorted[i]
		ino := d.kids[name]
		out = append(out, vfs.DirEntry{Name: name, Ino: ino, Type: f.nodes[ino].typ})
	}
	return out, i, nil
}

func (f *FS) Readlink(ino vfs.Ino) (string, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, err := f.get(ino)
	if err != nil {
		return "", err
	}
	if n.typ != vfs.TypeSymlink {
		return "", fmt.Errorf("memfs: readlink inode %d: %w", ino, vfs.EINVAL)
	}
	return n.target, nil
}

func (f *FS) Open(ino vfs.Ino) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ino)
	if err != nil {
		return err
	}
	n.opens++
	return nil
}

func (f *FS) Close(ino vfs.Ino) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ino)
	if err != nil {
		return err
	}
	if n.opens == 0 {
		return fmt.Errorf("memfs: close of inode %d not open: %w", ino, vfs.EBADF)
	}
	n.opens--
	if n.opens == 0 && n.nlink == 0 {
		delete(f.nodes, ino)
	}
	return nil
}

func (f *FS) Fsync(vfs.Ino) error { return nil }
func (f *FS) Sync() error         { return nil }
func (f *FS) Unmount() error      { return nil }

func permMode(p uint32) (m fsMode) {
	m = fsMode(p & 0o777)
	if p&0o4000 != 0 {
		m |= modeSetuid
	}
	if p&0o2000 != 0 {
		m |= modeSetgid
	}
	if p&0o1000 != 0 {
		m |= modeSticky
	}
	return m
}

func posixPerm(m fsMode) uint32 {
	p := uint32(m.Perm())
	if m&modeSetuid != 0 {
		p |= 0o4000
	}
	if m&modeSetgid != 0 {
		p |= 0o2000
	}
	if m&modeSticky != 0 {
		p |= 0o1000
	}
	return p
}
