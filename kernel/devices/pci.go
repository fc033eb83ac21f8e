//go:build tamago

package devices

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

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
	kernel.Klog.Debugf("pci %v: %v", v.Fn.BDF, d.BARs)
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
		route, werr := wireMSIX(name, tr)
		drv, err := vblk.New(tr, virtio.IdentityDMA{}, vblk.Options{Name: name, Queues: runtime.GOMAXPROCS(0)})
		if err != nil {
			return nil, n, fmt.Errorf("%s: virtio-blk-pci %v: %w", name, v.Fn.BDF, err)
		}
		cfg := blk.Config{Pool: vm.NewPool(diskPoolPages), PollInterval: diskPollInterval}
		mode := "polling"
		if werr != nil {
			kernel.Klog.Warnf("%v: polling the device instead", werr)
		} else {
			route.attach(drv.InterruptQueue, drv.Interrupt)
			cfg.PollInterval = diskRescuePollInterval
			mode = fmt.Sprintf("%d MSI-X vectors", route.vectors)
		}
		d := blk.NewDisk(drv, cfg)
		openedMu.Lock()
		opened[name] = d
		openedMu.Unlock()
		kernel.Klog.Infof("%s: virtio-blk-pci %v, %d bytes, %d queues, %s", name, v.Fn.BDF, drv.Size(), drv.NumQueues(), mode)
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
		route, werr := wireMSIX("vtnet0", tr)
		kicks, schedule := queueKicks(ncpu)
		d, err := vnet.New(tr, virtio.IdentityDMA{}, vnet.Options{Name: "vtnet0", Queues: ncpu, Schedule: schedule})
		if err != nil {
			return nil, fmt.Errorf("virtio-net-pci %v: %w", v.Fn.BDF, err)
		}
		interval, mode := netPollInterval, "polling"
		if werr != nil {
			kernel.Klog.Warnf("%v: polling the device instead", werr)
		} else {
			// virtqueue 2i receives and 2i+1 transmits for pair i; the
			// control queue after them is polled by its commands.
			pairs := d.NumQueues()
			route.attach(func(q int) {
				if q < 2*pairs {
					d.QueueInterrupt(q / 2)
				}
			}, d.Interrupt)
			interval, mode = rescuePollInterval, fmt.Sprintf("%d MSI-X vectors", route.vectors)
		}
		for q := 0; q < d.NumQueues(); q++ {
			go pollQueue(d, q, kicks[q%len(kicks)], interval)
		}
		kernel.Klog.Infof("vtnet0: virtio-net-pci %v, %d queue pairs, %s", v.Fn.BDF, d.NumQueues(), mode)
		return d, nil
	}
	return nil, nil
}

// maxMSIXVectors bounds the vectors one function takes from the board's
// table (microvm.AllocIRQ has 32 for every device of the machine): the
// configuration vector and up to four for the queues, which share them
// round-robin.
const maxMSIXVectors = 5

// msixRoute is one function's MSI-X vectors and the driver handlers they
// call. The vectors are programmed before the driver exists (it sets up
// its queues in its constructor, and each queue's vector must be mapped
// by then, §4.1.5.1.2), so the handlers reach the driver through pointers
// attach sets once; a message before that is dropped, and the driver's
// rescue poll picks up the work.
type msixRoute struct {
	tr      *virtio.PCI
	vectors int
	byVec   [][]int // virtqueues served by each vector; set by attach
	queue   atomic.Pointer[func(q int)]
	config  atomic.Pointer[func()]
}

// wireMSIX allocates vectors for tr's MSI-X table and enables it. On
// error the function stays on INTx, which this kernel does not route (it
// would take the ACPI _PRT), and the caller polls.
func wireMSIX(name string, tr *virtio.PCI) (*msixRoute, error) {
	n, err := tr.MSIXTableSize()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// The table is sized for the most queues the device can have; the
	// queue count it shows now may grow when features are negotiated
	// (virtio-net's MQ), so it is not the measure.
	n = min(n, maxMSIXVectors)
	r := &msixRoute{tr: tr}
	var irqs []*microvm.IRQ
	for v := 0; v < n; v++ {
		label := fmt.Sprintf("%s:q%d", name, v)
		if v == 0 {
			label = name + ":config"
		}
		q, err := microvm.AllocIRQ(label, func() { r.fire(v) })
		if err != nil {
			if v == 0 {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			break // fewer vectors, shared by more queues
		}
		irqs = append(irqs, q)
	}
	got, err := tr.EnableMSIXVectors(len(irqs), func(v int) (uint64, uint32) {
		return irqs[v].MSIAddress(), irqs[v].MSIData()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.vectors = got
	kernel.Klog.Infof("irq: %s: MSI-X vectors %#x..%#x", name, irqs[0].Vector, irqs[got-1].Vector)
	return r, nil
}

// attach installs the driver's handlers, once its queues are set up:
// queue(q) reaps virtqueue q, config reads the interrupt status (and with a
// single vector reaps everything).
func (r *msixRoute) attach(queue func(q int), config func()) {
	r.byVec = make([][]int, r.vectors)
	for q := 0; q < r.tr.NumQueues(); q++ {
		if v := r.tr.QueueVector(q); v < r.vectors {
			r.byVec[v] = append(r.byVec[v], q)
		}
	}
	r.queue.Store(&queue)
	r.config.Store(&config)
}

// fire runs on the interrupt dispatcher for vector v. Until attach ran it
// does nothing: vectors and byVec are published by attach's stores.
func (r *msixRoute) fire(v int) {
	queue, config := r.queue.Load(), r.config.Load()
	if queue == nil || config == nil {
		return
	}
	if v == 0 || r.vectors == 1 {
		(*config)()
		if r.vectors == 1 {
			return
		}
	}
	if v < len(r.byVec) {
		for _, q := range r.byVec[v] {
			(*queue)(q)
		}
	}
}
