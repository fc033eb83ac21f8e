//go:build tamago

package devices

import (
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"damselfly/board"
	"damselfly/board/microvm"
	"damselfly/kernel"
	"damselfly/sched"
	"damselfly/vfs"
	"damselfly/vfs/embedfs"
	"damselfly/vfs/ext2"
	"damselfly/vfs/rootfs"
)

// MountRoot mounts the root the command line names (root=/dev/vda, ro or
// rw), or, without root=, the read-only tree def (an embedded site). It
// reports whether the root is writable. The mount's port is served by
// filesystem threads of the application's LWKT system (kernel.Sched), one per
// CPU; without one, MountRoot starts it (LWKTSystem).
func MountRoot(cfg board.Config, def fs.FS) (*vfs.VFS, bool, error) {
	sys := LWKTSystem()
	if cfg.Root == "" {
		return vfs.New(embedfs.New(def, embedfs.Options{}), vfs.MountOptions{ReadOnly: true, Sched: sys}, vfs.Config{}), false, nil
	}
	root := "/dev/" + strings.TrimPrefix(cfg.Root, "/dev/")
	v, err := rootfs.Mount(rootfs.Config{Root: root, ReadOnly: cfg.ReadOnly, Sched: sys}, func(name string) (ext2.Device, error) {
		disk, err := OpenDisk(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
		}
		microvm.Mark(name + ": virtio-blk driver")
		return ext2.VMDevice{Obj: disk.Object()}, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("mount root %s: %w", root, err)
	}
	return v, !cfg.ReadOnly, nil
}

// LWKTSystem returns the application's LWKT system (kernel.Sched), starting
// one with a CPU per runtime processor if the application has not.
func LWKTSystem() *sched.System {
	if sys := kernel.Sched.Load(); sys != nil {
		return sys
	}
	sys := sched.NewSystem(runtime.GOMAXPROCS(0), kernel.SchedOptions())
	if !kernel.Sched.CompareAndSwap(nil, sys) {
		return kernel.Sched.Load() // another caller started one first
	}
	sys.Start()
	return sys
}
