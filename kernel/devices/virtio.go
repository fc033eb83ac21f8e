//go:build tamago

// Package devices brings up what a Damselfly application uses: the virtio
// transports of the machine, disks, the root filesystem and the network
// stack. The default appliance and user applications call it after
// kernel.Run has booted the machine.
package devices

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"damselfly/blk"
	"damselfly/board"
	"damselfly/board/microvm"
	"damselfly/kernel"
	"damselfly/virtio"
	"damselfly/virtio/vblk"
	"damselfly/vm"
)

// diskPollInterval is how often a waiting request polls the virtio-blk used
// ring when the device's interrupt could not be routed (see irq.go).
const diskPollInterval = 50 * time.Microsecond

// diskPoolPages bounds each disk object's page cache (64 MiB): disks may be
// larger than the guest's memory.
const diskPoolPages = 16384

// opened holds the disks OpenDisk returned, by name, for status pages.
// Written by OpenDisk (boot and application goroutines), read by DiskStats;
// openedMu guards it.
var (
	openedMu sync.Mutex
	opened   = map[string]*blk.Disk{}
)

// DiskStats snapshots the counters of every disk opened so far.
func DiskStats() map[string]map[string]uint64 {
	openedMu.Lock()
	defer openedMu.Unlock()
	m := make(map[string]map[string]uint64, len(opened))
	for name, d := range opened {
		st := d.Stats()
		m[name] = map[string]uint64{
			"fast_path": st.FastPath.Load(), "queued": st.Queued.Load(),
			"requests": st.Requests.Load(), "merged": st.Merged.Load(),
			"max_in_flight": st.MaxFlight.Load(), "errors": st.Errors.Load(), "polls": st.Polls.Load(),
			"poll_timers": st.PollTimers.Load(), "poll_arms": st.PollArms.Load(),
		}
		if v, ok := d.Driver().(*vblk.Device); ok {
			m[name]["interrupts"] = v.Interrupts.Load()
		}
	}
	return m
}

// microvm's virtio-mmio window: 0xfeb00000, one 512-byte transport per slot
// (QEMU hw/i386/microvm.c VIRTIO_MMIO_BASE and its slot layout).
const (
	microvmVirtioBase   = 0xfeb00000
	microvmVirtioStride = 0x200
	microvmVirtioSlots  = 24
)

// VirtioSlots lists the virtio-mmio transports: the ones the command line
// names (Firecracker, and QEMU microvm when it appends virtio_mmio.device=
// words), else those found by probing microvm's window.
func VirtioSlots() []virtio.MMIOSlot {
	phys := func(a uintptr) virtio.Regs { return virtio.NewPhysRegs(a) }
	var slots []virtio.MMIOSlot
	for _, d := range kernel.Config.Virtio {
		slots = append(slots, virtio.ProbeMMIO(uintptr(d.Base), uintptr(d.Size), 1, phys)...)
	}
	// Only microvm has virtio-mmio slots there; on q35/pc that range is in
	// the PCI hole, where firmware may put BARs, and a probe read of a
	// device register can have side effects (reading an ISR clears it).
	if len(slots) == 0 && microvm.M.Platform.Name == board.QEMUMicrovm.Name {
		slots = virtio.ProbeMMIO(microvmVirtioBase, microvmVirtioStride, microvmVirtioSlots, phys)
	}
	return slots
}

// OpenDisk opens the virtio-blk disk called name: vda is the first virtio-blk
// transport in slot order, vdb the second, and so on (Linux's naming).
func OpenDisk(name string) (*blk.Disk, error) {
	name = strings.TrimPrefix(name, "/dev/")
	n := 0
	for _, s := range VirtioSlots() {
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
		cfg := blk.Config{Pool: vm.NewPool(diskPoolPages), PollInterval: diskPollInterval}
		if _, err := wireMMIOIRQ(name, s.Addr, drv.Interrupt); err != nil {
			kernel.Klog.Warnf("%v: polling the device instead", err)
		} else {
			cfg.PollInterval = diskRescuePollInterval
		}
		d := blk.NewDisk(drv, cfg)
		openedMu.Lock()
		opened[name] = d
		openedMu.Unlock()
		return d, nil
	}
	// Then the virtio-blk-pci functions (pci.go).
	d, npci, err := openPCIDisk(name, n)
	if d != nil || err != nil {
		return d, err
	}
	n += npci
	if n == 0 {
		return nil, errors.New("no virtio-blk device (attach one: -drive ...,if=none -device virtio-blk-device on microvm, virtio-blk-pci on q35/pc)")
	}
	return nil, fmt.Errorf("no disk %s (found %d virtio-blk devices: vda..vd%c)", name, n, 'a'+n-1)
}
