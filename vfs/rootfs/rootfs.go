// Package rootfs chooses and mounts the root filesystem from the options the kernel command
// line provides (root=/dev/vda, ro or rw); without a root device the root is a memfs.
package rootfs

import (
	"fmt"
	"time"

	"damselfly/sched"
	"damselfly/vfs"
	"damselfly/vfs/ext2"
	"damselfly/vfs/memfs"
)

// Config is the parsed root selection.
type Config struct {
	// Root names the root device ("/dev/vda"); "" or "memfs" selects an empty memfs.
	Root string
	// ReadOnly mounts the root read-only (cmdline "ro"; "rw" is the default).
	ReadOnly bool
	// Threads per mount (0: one per CPU of Sched) and the LWKT system that runs them (nil:
	// vfs.HostSched()).
	Threads int
	Sched   *sched.System
	// NamecacheMax bounds the namecache (0: default).
	NamecacheMax int
	// Now supplies timestamps (nil: time.Now).
	Now func() time.Time
}

// Opener returns the device named by Config.Root.
type Opener func(name string) (ext2.Device, error)

// Mount builds the namespace: an ext2 root on the named device, or a memfs. A device whose
// disk fails validation is refused with the reason and nothing is written to it.
func Mount(cfg Config, open Opener) (*vfs.VFS, error) {
	opts := vfs.MountOptions{ReadOnly: cfg.ReadOnly, Threads: cfg.Threads, Sched: cfg.Sched}
	vcfg := vfs.Config{NamecacheMax: cfg.NamecacheMax}
	if cfg.Root == "" || cfg.Root == "memfs" {
		return vfs.New(memfs.New(cfg.Now), opts, vcfg), nil
	}
	if open == nil {
		return nil, fmt.Errorf("rootfs: root=%s: no device opener", cfg.Root)
	}
	dev, err := open(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("rootfs: root=%s: %w", cfg.Root, err)
	}
	fs, err := ext2.Mount(dev, ext2.Options{ReadOnly: cfg.ReadOnly, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("rootfs: root=%s: %w", cfg.Root, err)
	}
	return vfs.New(fs, opts, vcfg), nil
}
