// Package embedfs mounts any io/fs.FS, typically a Go embed.FS holding appliance assets, as a
// read-only Damselfly filesystem. Node numbers are handed out per path on first sight and kept
// for the life of the mount (the tree cannot change underneath).
package embedfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"

	"damselfly/vfs"
)

// FS adapts an fs.FS. It implements vfs.Filesystem, vfs.FastPather and vfs.ReadOnlyReporter.
type FS struct {
	fsys   fs.FS
	queued bool

	mu    sync.Mutex
	paths []string           // ino-1 -> path
	inos  map[string]vfs.Ino // path -> ino
}

// Options configure New.
type Options struct {
	// Queued sends every VOP to the filesystem threads; leave false for in-memory trees such as
	// embed.FS, whose operations never block and run on the fast path.
	Queued bool
}

// New mounts fsys read-only.
func New(fsys fs.FS, opts Options) *FS {
	return &FS{fsys: fsys, queued: opts.Queued, paths: []string{"."}, inos: map[string]vfs.Ino{".": 1}}
}

var (
	_ vfs.Filesystem       = (*FS)(nil)
	_ vfs.FastPather       = (*FS)(nil)
	_ vfs.ReadOnlyReporter = (*FS)(nil)
)

func (f *FS) CanFastPath(*vfs.Msg) bool { return !f.queued }
func (f *FS) ReadOnly() bool            { return true }
func (f *FS) Root() vfs.Ino             { return 1 }

func (f *FS) pathOf(ino vfs.Ino) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ino < 1 || int(ino) > len(f.paths) {
		return "", fmt.Errorf("embedfs: inode %d: %w", ino, vfs.ENOENT)
	}
	return f.paths[ino-1], nil
}

func (f *FS) inoOf(p string) vfs.Ino {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ino, ok := f.inos[p]; ok {
		return ino
	}
	f.paths = append(f.paths, p)
	ino := vfs.Ino(len(f.paths))
	f.inos[p] = ino
	return ino
}

// errno maps an fs.FS error to the VFS vocabulary.
func errno(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("embedfs: %v: %w", err, vfs.ENOENT)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("embedfs: %v: %w", err, vfs.EACCES)
	case errors.Is(err, fs.ErrInvalid):
		return fmt.Errorf("embedfs: %v: %w", err, vfs.EINVAL)
	}
	return fmt.Errorf("embedfs: %v: %w", err, vfs.EIO)
}

func typeOf(m fs.FileMode) vfs.Type {
	switch {
	case m.IsDir():
		return vfs.TypeDir
	case m&fs.ModeSymlink != 0:
		return vfs.TypeSymlink
	case m.IsRegular():
		return vfs.TypeRegular
	}
	return vfs.TypeOther
}

func (f *FS) lstat(p string) (fs.FileInfo, error) {
	if rl, ok := f.fsys.(fs.ReadLinkFS); ok {
		return rl.Lstat(p)
	}
	return fs.Stat(f.fsys, p)
}

func (f *FS) Lookup(dir vfs.Ino, names []string) ([]vfs.LookupResult, error) {
	p, err := f.pathOf(dir)
	if err != nil {
		return nil, err
	}
	out := make([]vfs.LookupResult, 0, len(names))
	for _, name := range names {
		child := path.Join(p, name)
		if !fs.ValidPath(child) || name == "." || name == ".." {
			return out, fmt.Errorf("embedfs: %q: %w", name, vfs.EINVAL)
		}
		info, err := f.lstat(child)
		if err != nil {
			return out, errno(err)
		}
		t := typeOf(info.Mode())
		out = append(out, vfs.LookupResult{Ino: f.inoOf(child), Type: t})
		if t != vfs.TypeDir {
			break
		}
		p = child
	}
	return out, nil
}

func (f *FS) Getattr(ino vfs.Ino) (vfs.Attr, error) {
	p, err := f.pathOf(ino)
	if err != nil {
		return vfs.Attr{}, err
	}
	info, err := f.lstat(p)
	if err != nil {
		return vfs.Attr{}, errno(err)
	}
	t := typeOf(info.Mode())
	perm := info.Mode().Perm()
	if perm == 0 { // embed.FS reports 0444/0555; other trees may report nothing
		perm = 0o444
		if t == vfs.TypeDir {
			perm = 0o555
		}
	}
	return vfs.Attr{Ino: ino, Type: t, Perm: perm, Nlink: 1, Size: info.Size(), Blocks: info.Size(),
		Mtime: info.ModTime(), Atime: info.ModTime(), Ctime: info.ModTime()}, nil
}

func (f *FS) Read(ino vfs.Ino, p []byte, off int64) (int, error) {
	name, err := f.pathOf(ino)
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("embedfs: read at %d: %w", off, vfs.EINVAL)
	}
	file, err := f.fsys.Open(name)
	if err != nil {
		return 0, errno(err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return 0, errno(err)
	}
	if info.IsDir() {
		return 0, fmt.Errorf("embedfs: read %s: %w", name, vfs.EISDIR)
	}
	if off >= info.Size() {
		return 0, io.EOF
	}
	if rest := info.Size() - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	var n int
	switch r := file.(type) {
	case io.ReaderAt:
		n, err = r.ReadAt(p, off)
	case io.Seeker:
		if _, err = r.Seek(off, io.SeekStart); err == nil {
			n, err = io.ReadFull(file, p)
		}
	default:
		if _, err = io.CopyN(io.Discard, file, off); err == nil {
			n, err = io.ReadFull(file, p)
		}
	}
	if err == io.EOF && n > 0 {
		err = nil
	}
	if err != nil && err != io.EOF {
		return n, errno(err)
	}
	return n, err
}

func (f *FS) Readdir(dir vfs.Ino, cookie uint64, max int) ([]vfs.DirEntry, uint64, error) {
	p, err := f.pathOf(dir)
	if err != nil {
		return nil, 0, err
	}
	ents, err := fs.ReadDir(f.fsys, p)
	if err != nil {
		return nil, 0, errno(err)
	}
	if max <= 0 {
		max = 128
	}
	var out []vfs.DirEntry
	i := cookie
	for ; i < uint64(len(ents)) && len(out) < max; i++ {
		e := ents[i]
		out = append(out, vfs.DirEntry{Name: e.Name(), Ino: f.inoOf(path.Join(p, e.Name())), Type: typeOf(e.Type())})
	}
	return out, i, nil
}

func (f *FS) Readlink(ino vfs.Ino) (string, error) {
	p, err := f.pathOf(ino)
	if err != nil {
		return "", err
	}
	rl, ok := f.fsys.(fs.ReadLinkFS)
	if !ok {
		return "", fmt.Errorf("embedfs: readlink %s: %w", p, vfs.EINVAL)
	}
	t, err := rl.ReadLink(p)
	if err != nil {
		return "", errno(err)
	}
	return t, nil
}

func (f *FS) Open(ino vfs.Ino) error {
	_, err := f.pathOf(ino)
	return err
}

func (f *FS) Close(vfs.Ino) error { return nil }

var errRO = fmt.Errorf("embedfs: %w", vfs.EROFS)

func (f *FS) Setattr(vfs.Ino, vfs.SetAttr) error               { return errRO }
func (f *FS) Write(vfs.Ino, []byte, int64) (int, error)        { return 0, errRO }
func (f *FS) Truncate(vfs.Ino, int64) error                    { return errRO }
func (f *FS) Create(vfs.Ino, string, uint32) (vfs.Ino, error)  { return 0, errRO }
func (f *FS) Mkdir(vfs.Ino, string, uint32) (vfs.Ino, error)   { return 0, errRO }
func (f *FS) Symlink(vfs.Ino, string, string) (vfs.Ino, error) { return 0, errRO }
func (f *FS) Link(vfs.Ino, vfs.Ino, string) error              { return errRO }
func (f *FS) Remove(vfs.Ino, string) error                     { return errRO }
func (f *FS) Rmdir(vfs.Ino, string) error                      { return errRO }
func (f *FS) Rename(vfs.Ino, string, vfs.Ino, string) error    { return errRO }
func (f *FS) Fsync(vfs.Ino) error                              { return nil }
func (f *FS) Sync() error                                      { return nil }
func (f *FS) Unmount() error                                   { return nil }
