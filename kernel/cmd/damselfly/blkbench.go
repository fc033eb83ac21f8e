//go:build tamago

package main

import (
	"fmt"
	"os"
	"time"

	"damselfly/blk"
	"damselfly/kernel"
	"damselfly/kernel/devices"
	"damselfly/qemu/linuxguest/storagebench/workload"
)

func init() {
	kernel.RegisterSelfTest("blkbench", blkBench)
}

// rawDisk is the first disk as raw bios (blk.Disk.ReadAt/WriteAt): reads
// bypass the disk's page cache (its VM object holds none of the region:
// raw writes drop the pages they cover), like O_DIRECT on Linux.
type rawDisk struct{ d *blk.Disk }

func (r rawDisk) ReadAt(p []byte, off int64) error  { return r.d.ReadAt(p, off) }
func (r rawDisk) WriteAt(p []byte, off int64) error { return r.d.WriteAt(p, off) }

// cachedDisk is the first disk through its VM object, as ext2 and other
// object users see it: page cache, range locks, write-back on Sync.
type cachedDisk struct{ d *blk.Disk }

func (c cachedDisk) ReadAt(p []byte, off int64) error {
	_, err := c.d.Object().ReadAt(p, off)
	return err
}

func (c cachedDisk) WriteAt(p []byte, off int64) error {
	_, err := c.d.Object().WriteAt(p, off)
	return err
}

// blkBench is selftest=blkbench: the block workloads shared with the Linux
// comparison guest (qemu/linuxguest/storagebench) on the first virtio-blk
// disk, which it overwrites (up to 256 MiB from the start): raw sequential
// 1 MiB and random 4 KiB reads and writes, then sequential 1 MiB writes
// and reads through the disk's VM object (written back by Sync; the
// object's pages are dropped before the read pass). One line per figure:
// "blkbench: <name> MB/s=<x> iops=<y> bytes=<n> ms=<t>".
func blkBench(t *kernel.T) error {
	disk, err := devices.OpenDisk("vda")
	if err != nil {
		return err
	}
	defer disk.Close()
	if disk.ReadOnly() {
		return fmt.Errorf("blkbench: %s is read-only (the benchmark writes)", disk.Name())
	}
	c := workload.Sizes(disk.Size())
	c.Now = time.Now
	fmt.Printf("blkbench: disk %s bytes=%d region=%d rand_ops=%d qd=%d\n", disk.Name(), disk.Size(), c.Region, c.RandOps, c.QD)
	res, err := workload.Raw(rawDisk{disk}, c)
	workload.Print(os.Stdout, "blkbench", res)
	if err != nil {
		return fmt.Errorf("blkbench: %s: %w", disk.Name(), err)
	}
	obj := disk.Object()
	res, err = workload.Buffered(cachedDisk{disk}, c, obj.Sync, func() error {
		// Everything was written back by Sync: dropping loses nothing.
		if _, dirty := obj.Resident(); dirty > 0 {
			return fmt.Errorf("%d dirty pages after sync", dirty)
		}
		obj.Discard(0, obj.Size())
		return nil
	})
	workload.Print(os.Stdout, "blkbench", res)
	if err != nil {
		return fmt.Errorf("blkbench: %s: %w", disk.Name(), err)
	}
	st := disk.Stats()
	t.Logf("%s: requests=%d merged=%d max_in_flight=%d polls=%d", disk.Name(),
		st.Requests.Load(), st.Merged.Load(), st.MaxFlight.Load(), st.Polls.Load())
	return disk.Flush()
}
