//go:build tamago

package devices

import (
	"fmt"
	"runtime"
	"sync"

	"damselfly/blk"
	"damselfly/board/microvm"
	"damselfly/board/pci"
	"damselfly/kernel"
	"damselfly/virtio"
	"damselfly/virtio/vblk"
	"damselfly/virtio/vnet"
	"damselfly/vm"
)

// PCIVirtio is a virtio function found on the PCI bus (q35, pc, Cloud
// Hypervisor).
type PCIVirtio struct {
	Fn       pci.Function
	DeviceID uint32 // virtio device type: virtio.DeviceNet, DeviceBlock...
}

// The PCI scan runs once, on first use; pciOnce guards pciFound, which is
// read-only afterwards.
var (
	pciOnce  sync.Once
	pciFound []PCIVirtio
)

// PCIVirtioDevices lists the virtio functions on the PCI bus in bus order
// (empty on machines without PCI). Disks are named after the virtio-mmio
// ones: with no MMIO disk, the first virtio-blk-pci function is vda.
func PCIVirtioDevices() []PCIVirtio {
	pciOnce.Do(func() {
		cs, note := microvm.PCIConfig()
		if note != "" {
			kernel.Klog.Infof("%s", note)
		}
		if cs == nil {
			return
		}
		fns, warns := pci.Scan(cs)
		for _, w := range warns {
			kernel.Klog.Warnf("%v", w)
		}
		kernel.Klog.Debugf("pci: %d functions through %s", len(fns), cs.Name())
		for _, f := range fns {
			if f.Header != pci.HeaderNormal {
				continue
			}
			id, ok := virtio.PCIDeviceType(f.Vendor, f.Device, f.SubID)
			if !ok {
				continue
			}
			pciFound = append(pciFound, PCIVirtio{Fn: f, DeviceID: id})
		}
	})
	return pciFound
}

// pciFunction is a PCI function as virtio.PCIDevice wants it: config
// space from board/pci, BARs as identity-mapped register windows bounded
// to their size.
type pciFunction struct{ *pci.Device }

func (p pciFunction) BAR(i int) (virtio.Regs, error) {
	b, err := p.MemBAR(i)
	if err != nil {
		return nil, err
	}
	a, err := microvm.PhysWindow(b.Addr, b.Size)
	if err != nil {
		return nil, fmt.Errorf("pci %v: %v: %w", p.Addr, b, err)
	}
	return virtio.NewWindow(virtio.NewPhysRegs(a), uint32(b.Size)), nil
}

// openPCI enables the function and maps its virtio structures.
func openPCI(v PCIVirtio) (*virtio.PCI, error) {
	cs, _ := microvm.PCIConfig()
	d, err := pci.Open(cs, v.Fn.BDF)
	if err != nil {
		return nil, err
	}
	tr, err := virtio.NewPCI(pciFunction{d})
	if err != nil {
		return nil, fmt.Errorf("pci %v: %w", v.Fn.BDF, err)
	}
	return tr, nil
}

// openPCIDisk opens the virtio-blk-pci disk called name when it is one:
// the PCI disks are named from vd('a'+first) on, in bus order. It returns
// how many PCI disks there are; err only when name is one of them and it
// could not be opened.
func openPCIDisk(name string, first int) (*blk.Disk, int, error) {
	n := 0
	for _, v := range PCIVirtioDevices() {
		if v.DeviceID != virtio.DeviceBlock {
			continue
		}
		this := fmt.Sprintf("vd%c", 'a'+first+n)
		n++
		if this != name {
			continue
		}
		tr, err := openPCI(v)
		if err != nil {
			return nil, n, fmt.Errorf("%s: virtio-blk-pci: %w", name, err)
		}
		drv, err := vblk.New(tr, virtio.IdentityDMA{}, vblk.Options{Name: name, Queues: runtime.GOMAXPROCS(0)})
		if err != nil {
			return nil, n, fmt.Errorf("%s: virtio-blk-pci %v: %w", name, v.Fn.BDF, err)
		}
		d := blk.NewDisk(drv, blk.Config{Pool: vm.NewPool(diskPoolPages), PollInterval: diskPollInterval})
		openedMu.Lock()
		opened[name] = d
		openedMu.Unlock()
		kernel.Klog.Infof("%s: virtio-blk-pci %v, %d bytes, polling", name, v.Fn.BDF, drv.Size())
		return d, n, nil
	}
	return nil, n, nil
}

// startPCINet brings up the first virtio-net-pci function, its queues
// polled as StartNetwork polls a virtio-mmio one; nil when there is none.
func startPCINet(ncpu int) (*vnet.Device, error) {
	for _, v := range PCIVirtioDevices() {
		if v.DeviceID != virtio.DeviceNet {
			continue
		}
		tr, err := openPCI(v)
		if err != nil {
			return nil, fmt.Errorf("virtio-net-pci: %w", err)
		}
		kicks := make([]chan struct{}, ncpu)
		for i := range kicks {
			kicks[i] = make(chan struct{}, 1)
		}
		d, err := vnet.New(tr, virtio.IdentityDMA{}, vnet.Options{Name: "vtnet0", Queues: ncpu,
			Schedule: func(q int) {
				select {
				case kicks[q%len(kicks)] <- struct{}{}:
				default:
				}
			}})
		if err != nil {
			return nil, fmt.Errorf("virtio-net-pci %v: %w", v.Fn.BDF, err)
		}
		for q := 0; q < d.NumQueues(); q++ {
			go pollQueue(d, q, kicks[q%len(kicks)], netPollInterval)
		}
		kernel.Klog.Infof("vtnet0: virtio-net-pci %v, %d queue pairs, polling", v.Fn.BDF, d.NumQueues())
		return d, nil
	}
	return nil, nil
}
