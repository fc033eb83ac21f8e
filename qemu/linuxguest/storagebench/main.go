//go:build linux

// Command storagebench runs the storage workloads of Damselfly's
// selftest=blkbench and selftest=fsbench (package workload) in the Debian
// comparison guest, on the same QEMU disk, and prints the same lines:
//
//	storagebench -mode blk [-dev /dev/vda]              raw (O_DIRECT) and buffered block figures
//	storagebench -mode fs  [-dev /dev/vda] [-mnt /mnt]  file figures on the disk's ext2 filesystem
//
// The blk mode overwrites the start of the disk. The fs mode mounts the
// disk as ext2 (the kernel's ext4 driver serves it), and drops caches for
// the cold read by syncing, unmounting, writing 3 to
// /proc/sys/vm/drop_caches and mounting again. It ends with
// "storagebench <mode>: ok" or "storagebench <mode>: FAIL <reason>"; the
// init then powers off (the cloud kernel has no /dev/port to reach QEMU's
// isa-debug-exit, so the verdict is that line, not QEMU's status).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"damselfly/qemu/linuxguest/storagebench/workload"
)

func main() {
	mode := flag.String("mode", "", "blk or fs")
	dev := flag.String("dev", "/dev/vda", "block device")
	mnt := flag.String("mnt", "/mnt", "mount point (fs mode)")
	flag.Parse()
	if err := mountProc(); err != nil {
		fail(*mode, err)
	}
	if b, err := os.ReadFile("/proc/version"); err == nil {
		fmt.Printf("storagebench: %s\n", strings.TrimSpace(string(b)))
	}
	var err error
	switch *mode {
	case "blk":
		err = runBlk(*dev)
	case "fs":
		err = runFS(*dev, *mnt)
	default:
		err = fmt.Errorf("unknown -mode %q (blk or fs)", *mode)
	}
	if err != nil {
		fail(*mode, err)
	}
	fmt.Printf("storagebench %s: ok\n", *mode)
}

func fail(mode string, err error) {
	fmt.Printf("storagebench %s: FAIL %s\n", mode, strings.ReplaceAll(err.Error(), "\n", "; "))
	os.Exit(1)
}

// mountProc mounts /proc if the init did not: drop_caches lives there.
func mountProc() error {
	if _, err := os.Stat("/proc/sys/vm/drop_caches"); err == nil {
		return nil
	}
	if err := os.MkdirAll("/proc", 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// dropCaches writes back dirty data and empties the page cache, dentries
// and inodes (Documentation/admin-guide/sysctl/vm.rst, drop_caches).
func dropCaches() error {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

func diskSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Seek(0, io.SeekEnd)
}

// alignedAlloc returns page-aligned anonymous memory, as O_DIRECT needs
// buffers aligned to the device's logical block size.
func alignedAlloc(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		fail("alloc", err)
	}
	return b
}

// fileDev is a Device over an open block device.
type fileDev struct{ f *os.File }

func (d fileDev) ReadAt(p []byte, off int64) error {
	_, err := d.f.ReadAt(p, off)
	return err
}

func (d fileDev) WriteAt(p []byte, off int64) error {
	_, err := d.f.WriteAt(p, off)
	return err
}

func runBlk(dev string) error {
	size, err := diskSize(dev)
	if err != nil {
		return err
	}
	c := workload.Sizes(size)
	c.Now = time.Now
	c.Alloc = alignedAlloc
	fmt.Printf("blkbench: disk %s bytes=%d region=%d rand_ops=%d qd=%d\n", dev, size, c.Region, c.RandOps, c.QD)
	direct, err := os.OpenFile(dev, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		return err
	}
	res, err := workload.Raw(fileDev{direct}, c)
	workload.Print(os.Stdout, "blkbench", res)
	direct.Close()
	if err != nil {
		return err
	}
	if err := dropCaches(); err != nil {
		return err
	}
	buffered, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer buffered.Close()
	res, err = workload.Buffered(fileDev{buffered}, c, buffered.Sync, dropCaches)
	workload.Print(os.Stdout, "blkbench", res)
	return err
}

func runFS(dev, mnt string) error {
	size, err := diskSize(dev)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return err
	}
	mount := func() error {
		if err := syscall.Mount(dev, mnt, "ext2", 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s as ext2: %w", dev, mnt, err)
		}
		return nil
	}
	if err := mount(); err != nil {
		return err
	}
	fsys := workload.OSFS{Root: mnt}
	c := workload.FSSizes(size)
	c.Now = time.Now
	c.Remount = func() (workload.FS, error) {
		if err := fsys.Sync(); err != nil {
			return nil, err
		}
		if err := syscall.Unmount(mnt, 0); err != nil {
			return nil, fmt.Errorf("umount %s: %w", mnt, err)
		}
		if err := dropCaches(); err != nil {
			return nil, err
		}
		return fsys, mount()
	}
	fmt.Printf("fsbench: disk %s bytes=%d file=%d io=%d meta_files=%d\n", dev, size, c.FileSize, c.IOSize, c.MetaFiles)
	res, _, err := workload.Files(fsys, c)
	workload.Print(os.Stdout, "fsbench", res)
	if uerr := syscall.Unmount(mnt, 0); err == nil && uerr != nil {
		err = fmt.Errorf("umount %s: %w", mnt, uerr)
	}
	return err
}
