//go:build tamago

package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"damselfly/blk"
	"damselfly/kernel"
	"damselfly/kernel/devices"
	"damselfly/qemu/linuxguest/storagebench/workload"
	"damselfly/vfs"
	"damselfly/vfs/ext2"
)

func init() {
	kernel.RegisterSelfTest("fsbench", fsBench)
}

// vfsBench adapts the application API (vfs.VFS) to the shared workload.
type vfsBench struct{ v *vfs.VFS }

func (b vfsBench) Mkdir(name string) error { return b.v.Mkdir(name, 0o755) }
func (b vfsBench) Stat(name string) error {
	_, err := b.v.Stat(name)
	return err
}
func (b vfsBench) Remove(name string) error { return b.v.Remove(name) }
func (b vfsBench) Sync() error              { return b.v.Sync() }

func (b vfsBench) Create(name string) (workload.File, error) {
	f, err := b.v.Create(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (b vfsBench) Open(name string) (workload.File, error) {
	f, err := b.v.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// mountBench mounts the ext2 filesystem on disk's VM object, read-write,
// the way devices.MountRoot does, but on a disk this test holds, so that it
// can drop the disk's cached pages between mounts.
func mountBench(disk *blk.Disk) (*vfs.VFS, error) {
	fs, err := ext2.Mount(ext2.VMDevice{Obj: disk.Object()}, ext2.Options{})
	if err != nil {
		return nil, err
	}
	return vfs.New(fs, vfs.MountOptions{}, vfs.Config{}), nil
}

// fsBench is selftest=fsbench on an ext2 root (root=/dev/vda rw): the file
// workloads shared with the Linux comparison guest (file write with fsync,
// cold and warm reads, create/stat/remove of small files in one directory),
// through the application API. Caches are dropped before the cold read by
// unmounting (which writes everything back), dropping every page of the
// disk's VM object and mounting again: the read then starts with an empty
// namecache, inode cache, metadata block cache and page cache. One line
// per figure: "fsbench: <name> MB/s=<x> iops=<y> bytes=<n> ms=<t>".
func fsBench(t *kernel.T) error {
	cfg := kernel.Config
	if cfg.Root == "" {
		return errors.New("no root device: boot with root=/dev/vda rw")
	}
	if cfg.ReadOnly {
		return errors.New("the fs benchmark writes: boot with rw")
	}
	disk, err := devices.OpenDisk(cfg.Root)
	if err != nil {
		return err
	}
	defer disk.Close()
	v, err := mountBench(disk)
	if err != nil {
		return fmt.Errorf("fsbench: mount %s: %w", cfg.Root, err)
	}
	c := workload.FSSizes(disk.Size())
	c.Now = time.Now
	obj := disk.Object()
	c.Remount = func() (workload.FS, error) {
		if err := v.Close(); err != nil {
			return nil, fmt.Errorf("unmount: %w", err)
		}
		if err := obj.Sync(); err != nil {
			return nil, err
		}
		if _, dirty := obj.Resident(); dirty > 0 {
			return nil, fmt.Errorf("%d dirty pages after unmount and sync", dirty)
		}
		obj.Discard(0, obj.Size())
		nv, err := mountBench(disk)
		if err != nil {
			return nil, fmt.Errorf("mount: %w", err)
		}
		v = nv
		return vfsBench{v}, nil
	}
	fmt.Printf("fsbench: disk %s bytes=%d file=%d io=%d meta_files=%d\n", disk.Name(), disk.Size(), c.FileSize, c.IOSize, c.MetaFiles)
	res, _, err := workload.Files(vfsBench{v}, c)
	workload.Print(os.Stdout, "fsbench", res)
	if cerr := v.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("unmount: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("fsbench: %s: %w", disk.Name(), err)
	}
	if err := obj.Sync(); err != nil {
		return fmt.Errorf("fsbench: %s: %w", disk.Name(), err)
	}
	return disk.Flush()
}
