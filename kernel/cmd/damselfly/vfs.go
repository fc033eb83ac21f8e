//go:build tamago

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"damselfly/kernel"
	"damselfly/vfs/ext2"
	"damselfly/vfs/rootfs"
	"damselfly/vfs/selftest"
)

func init() {
	kernel.RegisterSelfTest("vfs", vfsSelfTest)
}

// vfsSelfTest mounts the root the command line names (root=/dev/vda rw),
// then removes every *.del, renames every X.mv to X.moved and copies every
// other regular file F to F.copy (selftest.SelfTestVFS), syncs and unmounts.
// The boot test checks the image with e2fsck and debugfs afterwards.
func vfsSelfTest(t *kernel.T) error {
	cfg := kernel.Config
	if cfg.Root == "" {
		return errors.New("no root device: boot with root=/dev/vda rw")
	}
	if cfg.ReadOnly {
		return errors.New("the vfs self-test writes: boot with rw")
	}
	root := "/dev/" + strings.TrimPrefix(cfg.Root, "/dev/")
	var opened []interface{ Close() error }
	defer func() {
		for _, d := range opened {
			d.Close()
		}
	}()
	v, err := rootfs.Mount(rootfs.Config{Root: root, ReadOnly: cfg.ReadOnly}, func(name string) (ext2.Device, error) {
		disk, err := openDisk(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
		}
		opened = append(opened, disk)
		return ext2.VMDevice{Obj: disk.Object()}, nil
	})
	if err != nil {
		return fmt.Errorf("mount %s: %w", root, err)
	}
	sum, err := selftest.SelfTestVFS(v)
	if err != nil {
		return err
	}
	t.Logf("%s", sum)
	return nil
}
