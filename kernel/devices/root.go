//go:build tamago

package devices

import (
	"fmt"
	"io/fs"
	"strings"

	"damselfly/board"
	"damselfly/vfs"
	"damselfly/vfs/embedfs"
	"damselfly/vfs/ext2"
	"damselfly/vfs/rootfs"
)

// MountRoot mounts the root the command line names (root=/dev/vda, ro or
// rw), or, without root=, the read-only tree def (an embedded site). It
// reports whether the root is writable.
func MountRoot(cfg board.Config, def fs.FS) (*vfs.VFS, bool, error) {
	if cfg.Root == "" {
		return vfs.New(embedfs.New(def, embedfs.Options{}), vfs.MountOptions{ReadOnly: true}, vfs.Config{}), false, nil
	}
	root := "/dev/" + strings.TrimPrefix(cfg.Root, "/dev/")
	v, err := rootfs.Mount(rootfs.Config{Root: root, ReadOnly: cfg.ReadOnly}, func(name string) (ext2.Device, error) {
		disk, err := OpenDisk(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
		}
		return ext2.VMDevice{Obj: disk.Object()}, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("mount root %s: %w", root, err)
	}
	return v, !cfg.ReadOnly, nil
}
