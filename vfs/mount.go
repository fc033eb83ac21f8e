package vfs

import (
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"

	"damselfly/sched"
)

// MountOptions configure one mount.
type MountOptions struct {
	ReadOnly bool
	// Threads is the number of filesystem threads serving the mount's port; 0 means one per
	// CPU of Sched.
	Threads int
	// Sched is the LWKT system whose threads serve the mount (the kernel passes its own,
	// kernel.Sched); nil means HostSched(), a system with one CPU per host CPU.
	Sched *sched.System
}

// Mount is one mounted filesystem.
type Mount struct {
	fs      Filesystem
	port    *Port
	ro      bool
	root    *ncEntry // the filesystem's root directory
	covered *ncEntry // the entry this mount hides; nil for the root mount
	path    string
	opens   atomic.Int64 // open files, which keep the mount busy
}

// Port returns the mount's message port (for stacking layers and statistics).
func (m *Mount) Port() *Port { return m.port }

// Filesystem returns the mounted filesystem.
func (m *Mount) Filesystem() Filesystem { return m.fs }

// ReadOnly reports whether the mount refuses changes.
func (m *Mount) ReadOnly() bool { return m.ro }

// Path returns where the mount is attached.
func (m *Mount) Path() string { return m.path }

// do sends one VOP message to the mount and waits for the reply.
func (m *Mount) do(msg *Msg) error { return m.port.DoMsg(msg) }

// Config configures a VFS.
type Config struct {
	// NamecacheMax bounds the namecache; 0 means 8192 entries.
	NamecacheMax int
}

// VFS is a namespace: a root filesystem, the mounts below it and the namecache that resolves
// paths across them. All methods are safe for concurrent use.
type VFS struct {
	// ns serialises namespace changes against path resolution: shared for resolving and for
	// operations on resolved nodes, exclusive for create/remove/rename/link/mount/unmount.
	ns sync.RWMutex

	mu     sync.Mutex // guards nc and mounts
	nc     namecache
	root   *Mount
	mounts []*Mount // root first, in mount order
	closed bool
}

// New returns a VFS with rootFS mounted at "/".
func New(rootFS Filesystem, opts MountOptions, cfg Config) *VFS {
	v := &VFS{}
	v.nc.max = cfg.NamecacheMax
	if v.nc.max <= 0 {
		v.nc.max = 8192
	}
	v.root = v.newMount(rootFS, opts, "/")
	v.mounts = []*Mount{v.root}
	return v
}

func (v *VFS) newMount(fsys Filesystem, opts MountOptions, path string) *Mount {
	m := &Mount{fs: fsys, ro: opts.ReadOnly, path: path}
	if r, ok := fsys.(ReadOnlyReporter); ok && r.ReadOnly() {
		m.ro = true
	}
	m.port = newPort(fsys, opts.Sched, opts.Threads, "vfs:"+path)
	m.root = &ncEntry{mnt: m, ino: fsys.Root(), typ: TypeDir, state: ncResolved}
	return m
}

// Mounts returns the current mounts, root first.
func (v *VFS) Mounts() []*Mount {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*Mount(nil), v.mounts...)
}

// NamecacheStats returns the namecache counters.
func (v *VFS) NamecacheStats() NamecacheStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.nc.stats
	s.Entries = v.nc.count
	return s
}

// Mount attaches fs on the directory at path.
func (v *VFS) Mount(path string, fsys Filesystem, opts MountOptions) error {
	v.ns.Lock()
	defer v.ns.Unlock()
	e, err := v.resolve(path, true)
	if err != nil {
		return &fs.PathError{Op: "mount", Path: path, Err: err}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return &fs.PathError{Op: "mount", Path: path, Err: EBADF}
	}
	if e.typ != TypeDir {
		return &fs.PathError{Op: "mount", Path: path, Err: ENOTDIR}
	}
	if e.mounted != nil || e.parent == nil {
		return &fs.PathError{Op: "mount", Path: path, Err: EBUSY}
	}
	m := v.newMount(fsys, opts, cleanPath(path))
	m.covered = e
	e.mounted = m
	v.mounts = append(v.mounts, m)
	return nil
}

// Unmount detaches the filesystem mounted at path, after syncing it. It fails with EBUSY
// while files are open on it or other mounts sit below it.
func (v *VFS) Unmount(path string) error {
	v.ns.Lock()
	defer v.ns.Unlock()
	e, err := v.resolve(path, true)
	if err != nil {
		return &fs.PathError{Op: "unmount", Path: path, Err: err}
	}
	v.mu.Lock()
	m := e.mnt
	if e != m.root || m == v.root {
		v.mu.Unlock()
		return &fs.PathError{Op: "unmount", Path: path, Err: EINVAL}
	}
	if hasMount(m.root) || m.opens.Load() != 0 {
		v.mu.Unlock()
		return &fs.PathError{Op: "unmount", Path: path, Err: EBUSY}
	}
	m.covered.mounted = nil
	for i, x := range v.mounts {
		if x == m {
			v.mounts = append(v.mounts[:i], v.mounts[i+1:]...)
			break
		}
	}
	v.dropMountEntries(m)
	v.mu.Unlock()
	if err := m.shutdown(); err != nil {
		return &fs.PathError{Op: "unmount", Path: path, Err: err}
	}
	return nil
}

// dropMountEntries removes a mount's cached entries. v.mu held.
func (v *VFS) dropMountEntries(m *Mount) {
	for _, ch := range m.root.children {
		v.nc.remove(ch)
	}
	m.root.children = nil
}

func (m *Mount) shutdown() error {
	m.port.close()
	if err := m.fs.Unmount(); err != nil {
		return fmt.Errorf("vfs: unmount %s: %w", m.path, err)
	}
	return nil
}

// Close syncs and unmounts every filesystem, innermost first. Files still open are
// abandoned; no call may follow.
func (v *VFS) Close() error {
	v.ns.Lock()
	defer v.ns.Unlock()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	mounts := v.mounts
	v.mounts = nil
	for _, m := range mounts {
		v.dropMountEntries(m)
	}
	v.mu.Unlock()
	var first error
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := mounts[i].shutdown(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
