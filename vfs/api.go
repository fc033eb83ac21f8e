package vfs

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"time"
)

// Open flags, with Linux's values so an os-package adapter can pass them through.
const (
	O_RDONLY = 0x0
	O_WRONLY = 0x1
	O_RDWR   = 0x2
	O_CREATE = 0x40
	O_EXCL   = 0x80
	O_TRUNC  = 0x200
	O_APPEND = 0x400

	accMode = 0x3
)

func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func (v *VFS) writable(m *Mount) error {
	if m.ro {
		return EROFS
	}
	return nil
}

// Open opens a file or directory for reading.
func (v *VFS) Open(name string) (*File, error) { return v.OpenFile(name, O_RDONLY, 0) }

// Create creates or truncates a file and opens it for reading and writing.
func (v *VFS) Create(name string) (*File, error) {
	return v.OpenFile(name, O_RDWR|O_CREATE|O_TRUNC, 0o666)
}

// OpenFile is the general open: flag is a combination of the O_ constants.
func (v *VFS) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	write := flag&accMode != O_RDONLY || flag&(O_TRUNC|O_APPEND) != 0
	// The namespace lock is held until the node is pinned by OpOpen, so it cannot be removed
	// (and its number reused) between resolution and open.
	var (
		e   *ncEntry
		err error
	)
	if flag&O_CREATE != 0 {
		v.ns.Lock()
		defer v.ns.Unlock()
		e, err = v.openCreate(name, flag, perm)
	} else {
		v.ns.RLock()
		defer v.ns.RUnlock()
		e, err = v.resolve(name, true)
	}
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	m := e.mnt
	if write {
		if err := v.writable(m); err != nil {
			return nil, pathErr("open", name, err)
		}
		if e.typ == TypeDir {
			return nil, pathErr("open", name, EISDIR)
		}
	}
	if e.typ == TypeOther {
		return nil, pathErr("open", name, ENOTSUP)
	}
	if err := m.do(&Msg{Op: OpOpen, Ino: e.ino}); err != nil {
		return nil, pathErr("open", name, err)
	}
	m.opens.Add(1)
	f := &File{v: v, m: m, ino: e.ino, typ: e.typ, name: name, flag: flag}
	if flag&O_TRUNC != 0 && e.typ == TypeRegular {
		if err := m.do(&Msg{Op: OpTruncate, Ino: e.ino, Off: 0}); err != nil {
			f.Close()
			return nil, pathErr("open", name, err)
		}
	}
	return f, nil
}

// openCreate resolves name for O_CREATE, creating a regular file if it is missing. v.ns held
// exclusively.
func (v *VFS) openCreate(name string, flag int, perm fs.FileMode) (*ncEntry, error) {
	dir, base, err := v.resolveParent(name)
	if err != nil {
		return nil, err
	}
	links := 0
	e, err := v.walk(dir, []string{base}, true, &links)
	if err == nil {
		if flag&O_EXCL != 0 {
			return nil, EEXIST
		}
		return e, nil
	}
	if !errors.Is(err, ENOENT) {
		return nil, err
	}
	if err := v.writable(dir.mnt); err != nil {
		return nil, err
	}
	m := &Msg{Op: OpCreate, Dir: dir.ino, Name: base, Perm: posixPerm(perm)}
	if err := dir.mnt.do(m); err != nil {
		return nil, err
	}
	return v.enter(dir, base, m.NewIno, TypeRegular), nil
}

// enter records a node just created in dir. v.ns held exclusively.
func (v *VFS) enter(dir *ncEntry, name string, ino Ino, t Type) *ncEntry {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.nc.add(dir, name)
	e.state, e.ino, e.typ = ncResolved, ino, t
	e.children = nil
	v.nc.evict()
	return e
}

// posixPerm converts io/fs permission bits to the POSIX low 12 bits carried by messages.
func posixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// modifyParent runs op on the parent directory of name under the exclusive namespace lock,
// after checking the mount is writable.
func (v *VFS) modifyParent(opName, name string, op func(dir *ncEntry, base string) error) error {
	v.ns.Lock()
	defer v.ns.Unlock()
	dir, base, err := v.resolveParent(name)
	if err == nil {
		err = v.writable(dir.mnt)
	}
	if err == nil {
		err = op(dir, base)
	}
	return pathErr(opName, name, err)
}

// Mkdir creates a directory.
func (v *VFS) Mkdir(name string, perm fs.FileMode) error {
	return v.modifyParent("mkdir", name, func(dir *ncEntry, base string) error {
		m := &Msg{Op: OpMkdir, Dir: dir.ino, Name: base, Perm: posixPerm(perm)}
		if err := dir.mnt.do(m); err != nil {
			return err
		}
		v.enter(dir, base, m.NewIno, TypeDir)
		return nil
	})
}

// MkdirAll creates a directory and any missing parents.
func (v *VFS) MkdirAll(name string, perm fs.FileMode) error {
	if st, err := v.Stat(name); err == nil {
		if st.IsDir() {
			return nil
		}
		return pathErr("mkdir", name, ENOTDIR)
	}
	if parent := path.Dir(cleanPath(name)); parent != "/" {
		if err := v.MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	err := v.Mkdir(name, perm)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// Symlink creates newname as a symbolic link to oldname.
func (v *VFS) Symlink(oldname, newname string) error {
	return v.modifyParent("symlink", newname, func(dir *ncEntry, base string) error {
		m := &Msg{Op: OpSymlink, Dir: dir.ino, Name: base, Target: oldname}
		if err := dir.mnt.do(m); err != nil {
			return err
		}
		v.enter(dir, base, m.NewIno, TypeSymlink)
		return nil
	})
}

// Link creates newname as a hard link to oldname.
func (v *VFS) Link(oldname, newname string) error {
	return v.modifyParent("link", newname, func(dir *ncEntry, base string) error {
		src, err := v.resolve(oldname, false)
		if err != nil {
			return err
		}
		if src.mnt != dir.mnt {
			return EXDEV
		}
		if err := dir.mnt.do(&Msg{Op: OpLink, Ino: src.ino, Dir: dir.ino, Name: base}); err != nil {
			return err
		}
		v.enter(dir, base, src.ino, src.typ)
		return nil
	})
}

// Remove removes a file or an empty directory.
func (v *VFS) Remove(name string) error {
	return v.modifyParent("remove", name, func(dir *ncEntry, base string) error {
		links := 0
		e, err := v.walk(dir, []string{base}, false, &links)
		if err != nil {
			return err
		}
		v.mu.Lock()
		busy := e.mounted != nil || e.parent == nil
		v.mu.Unlock()
		if busy {
			return EBUSY
		}
		op := OpRemove
		if e.typ == TypeDir {
			op = OpRmdir
		}
		if err := dir.mnt.do(&Msg{Op: op, Dir: dir.ino, Name: base}); err != nil {
			return err
		}
		v.mu.Lock()
		v.nc.setNegative(e)
		v.mu.Unlock()
		return nil
	})
}

// Rename moves oldname to newname, replacing a file or empty directory there. Both must be on
// the same mount.
func (v *VFS) Rename(oldname, newname string) error {
	v.ns.Lock()
	defer v.ns.Unlock()
	err := v.rename(oldname, newname)
	if err != nil {
		return &fs.PathError{Op: "rename", Path: oldname + " -> " + newname, Err: err}
	}
	return nil
}

func (v *VFS) rename(oldname, newname string) error {
	sdir, sbase, err := v.resolveParent(oldname)
	if err != nil {
		return err
	}
	tdir, tbase, err := v.resolveParent(newname)
	if err != nil {
		return err
	}
	if sdir.mnt != tdir.mnt {
		return EXDEV
	}
	if err := v.writable(sdir.mnt); err != nil {
		return err
	}
	links := 0
	src, err := v.walk(sdir, []string{sbase}, false, &links)
	if err != nil {
		return err
	}
	links = 0
	dst, derr := v.walk(tdir, []string{tbase}, false, &links)
	if derr == nil && dst.ino == src.ino {
		return nil // two names of one node: rename does nothing (POSIX)
	}
	v.mu.Lock()
	busy := hasMount(src) || (derr == nil && (dst.mounted != nil || hasMount(dst)))
	v.mu.Unlock()
	if busy {
		return EBUSY
	}
	if err := sdir.mnt.do(&Msg{Op: OpRename, Dir: sdir.ino, Name: sbase, ToDir: tdir.ino, ToName: tbase}); err != nil {
		return err
	}
	// Move the cached subtree to its new name; the old name becomes negative.
	v.mu.Lock()
	defer v.mu.Unlock()
	if old := tdir.children[tbase]; old != nil {
		v.nc.remove(old)
	}
	delete(sdir.children, sbase)
	src.parent, src.name = tdir, tbase
	if tdir.children == nil {
		tdir.children = make(map[string]*ncEntry)
	}
	tdir.children[tbase] = src
	neg := v.nc.add(sdir, sbase)
	neg.state = ncNegative
	v.nc.evict()
	return nil
}

// Stat returns a FileInfo for name, following symlinks.
func (v *VFS) Stat(name string) (fs.FileInfo, error) { return v.stat("stat", name, true) }

// Lstat returns a FileInfo for name without following a final symlink.
func (v *VFS) Lstat(name string) (fs.FileInfo, error) { return v.stat("lstat", name, false) }

func (v *VFS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	e, err := v.resolve(name, follow)
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	m := &Msg{Op: OpGetattr, Ino: e.ino}
	if err := e.mnt.do(m); err != nil {
		return nil, pathErr(op, name, err)
	}
	return &fileInfo{name: baseName(name), attr: m.Attr}, nil
}

// Readlink returns a symlink's target.
func (v *VFS) Readlink(name string) (string, error) {
	v.ns.RLock()
	defer v.ns.RUnlock()
	e, err := v.resolve(name, false)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	if e.typ != TypeSymlink {
		return "", pathErr("readlink", name, EINVAL)
	}
	m := &Msg{Op: OpReadlink, Ino: e.ino}
	if err := e.mnt.do(m); err != nil {
		return "", pathErr("readlink", name, err)
	}
	return m.Link, nil
}

// ReadDir returns a directory's entries sorted by name.
func (v *VFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := v.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, nil
}

// ReadFile reads a whole file.
func (v *VFS) ReadFile(name string) ([]byte, error) {
	f, err := v.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.readAll()
}

// WriteFile creates or truncates name and writes data to it.
func (v *VFS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	f, err := v.OpenFile(name, O_WRONLY|O_CREATE|O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Truncate changes a file's size.
func (v *VFS) Truncate(name string, size int64) error {
	return v.setattr("truncate", name, SetAttr{Size: &size})
}

// Chmod changes permission bits.
func (v *VFS) Chmod(name string, mode fs.FileMode) error {
	p := mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	return v.setattr("chmod", name, SetAttr{Perm: &p})
}

// Chtimes changes access and modification times.
func (v *VFS) Chtimes(name string, atime, mtime time.Time) error {
	return v.setattr("chtimes", name, SetAttr{Atime: &atime, Mtime: &mtime})
}

func (v *VFS) setattr(op, name string, set SetAttr) error {
	v.ns.RLock()
	defer v.ns.RUnlock()
	e, err := v.resolve(name, true)
	if err == nil {
		err = v.writable(e.mnt)
	}
	if err == nil {
		err = e.mnt.do(&Msg{Op: OpSetattr, Ino: e.ino, Set: set})
	}
	return pathErr(op, name, err)
}

// Sync writes every mounted filesystem's dirty state to its device.
func (v *VFS) Sync() error {
	var first error
	for _, m := range v.Mounts() {
		if m.ro {
			continue
		}
		if err := m.do(&Msg{Op: OpSync}); err != nil && first == nil {
			first = pathErr("sync", m.path, err)
		}
	}
	return first
}

func baseName(name string) string {
	b := path.Base(cleanPath(name))
	if b == "/" {
		return "."
	}
	return b
}
