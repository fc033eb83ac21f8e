//go:build tamago

package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"damselfly/blk"
	"damselfly/kernel"
	"damselfly/virtio"
	"damselfly/virtio/vblk"
	"damselfly/vm"
)

func init() {
	kernel.RegisterSelfTest("blk", blkSelfTest)
}

// blkPollInterval is how often a waiting request polls the virtio-blk used
// ring: the device's interrupt is not routed yet (see docs/blk.md), so the
// self-test runs the driver in polling mode.
const blkPollInterval = 50 * time.Microsecond

// blkPoolPages bounds the disk object's page cache (64 MiB): the self-test
// reads whole disks larger than the guest's memory.
const blkPoolPages = 16384

// microvm's virtio-mmio window: 0xfeb00000, one 512-byte transport per slot
// (QEMU hw/i386/microvm.c VIRTIO_MMIO_BASE and its slot layout).
const (
	microvmVirtioBase   = 0xfeb00000
	microvmVirtioStride = 0x200
	microvmVirtioSlots  = 24
)

// virtioSlots lists the virtio-mmio transports: the ones the command line
// names (Firecracker, and QEMU microvm when it appends virtio_mmio.device=
// words), else those found by probing microvm's window.
func virtioSlots() []virtio.MMIOSlot {
	phys := func(a uintptr) virtio.Regs { return virtio.NewPhysRegs(a) }
	var slots []virtio.MMIOSlot
	for _, d := range kernel.Config.Virtio {
		slots = append(slots, virtio.ProbeMMIO(uintptr(d.Base), uintptr(d.Size), 1, phys)...)
	}
	if len(slots) == 0 {
		slots = virtio.ProbeMMIO(microvmVirtioBase, microvmVirtioStride, microvmVirtioSlots, phys)
	}
	return slots
}

// openDisk opens the virtio-blk disk called name: vda is the first virtio-blk
// transport in slot order, vdb the second, and so on (Linux's naming).
func openDisk(name string) (*blk.Disk, error) {
	name = strings.TrimPrefix(name, "/dev/")
	n := 0
	for _, s := range virtioSlots() {
		if s.DeviceID != virtio.DeviceBlock {
			continue
		}
		this := fmt.Sprintf("vd%c", 'a'+n)
		n++
		if this != name {
			continue
		}
		tr, err := virtio.NewMMIO(s.Regs)
		if err != nil {
			return nil, fmt.Errorf("%s: virtio-blk at %#x: %w", name, s.Addr, err)
		}
		drv, err := vblk.New(tr, virtio.IdentityDMA{}, vblk.Options{Name: name, Queues: runtime.GOMAXPROCS(0)})
		if err != nil {
			return nil, fmt.Errorf("%s: virtio-blk at %#x: %w", name, s.Addr, err)
		}
		return blk.NewDisk(drv, blk.Config{Pool: vm.NewPool(blkPoolPages), PollInterval: blkPollInterval}), nil
	}
	if n == 0 {
		return nil, errors.New("no virtio-blk device (attach one: -drive ...,if=none -device virtio-blk-device)")
	}
	return nil, fmt.Errorf("no disk %s (found %d virtio-blk devices: vda..vd%c)", name, n, 'a'+n-1)
}

// blkSelfTest reads the whole first disk through its VM object in random
// chunks from several threads, prints the digest of the disk as it was at
// boot, then copies the first half onto the second half and syncs
// (blk.SelfTest). The boot test checks both from outside.
func blkSelfTest(t *kernel.T) error {
	disk, err := openDisk("vda")
	if err != nil {
		return err
	}
	defer disk.Close()
	seed := uint64(time.Now().UnixNano())
	sum, n, err := blk.SelfTest(disk, 4, rand.New(rand.NewPCG(seed, seed>>1|1)))
	if err != nil {
		return err
	}
	fmt.Printf("blk: sha256=%x bytes=%d\n", sum, n)
	return nil
}
