//go:build tamago

package devices

import (
	"fmt"
	"time"

	"damselfly/board/microvm"
	"damselfly/kernel"
)

// QEMU microvm wires virtio-mmio slot i to GSI virtioIRQBase+i: 24 (the
// first input of its second I/O APIC) when that I/O APIC exists, else 5
// (hw/i386/microvm.c, virtio_irq_base). A command line that names the
// transports (virtio_mmio.device=...:<irq>, Firecracker) gives the GSI.
const (
	microvmVirtioIRQBase     = 5
	microvmVirtioIRQBaseIOA2 = 24
)

// rescuePollInterval is how often drivers whose interrupt is routed still
// poll. The runtime notices a relayed interrupt when a CPU looks for work
// (toolchain/overlay/src/runtime/netpoll_tamago.go); with every CPU busy on
// runnable goroutines that can be late, and tamago has no sysmon to poll
// the way Linux Go's sysmon polls the network every 10 ms. The rescue poll
// plays that part. A disk (blk.Config.PollInterval) polls only while it has
// requests in flight, on one timer per disk (blk/rescue.go): idle, nothing.
// A network queue's poller wakes once per interval, idle or not.
const rescuePollInterval = 10 * time.Millisecond

// diskRescuePollInterval is the rescue poll of a disk with a routed
// interrupt. A disk polls only while requests are in flight, so a short
// interval costs nothing idle and bounds how late a completion is noticed
// when every CPU is busy: at boot, with the CPUs in package init, the
// root's first reads waited for the 10 ms poll and put 20-80 ms on the way
// to the first HTTP answer (docs/boot.md).
const diskRescuePollInterval = time.Millisecond

// virtioGSI returns the I/O APIC input of the virtio-mmio transport at addr.
func virtioGSI(addr uintptr) (int, bool) {
	for _, d := range kernel.Config.Virtio {
		if uintptr(d.Base) == addr && d.IRQ != 0 {
			return int(d.IRQ), true
		}
	}
	if len(kernel.Config.Virtio) > 0 {
		return 0, false
	}
	if addr < microvmVirtioBase || addr >= microvmVirtioBase+microvmVirtioSlots*microvmVirtioStride {
		return 0, false
	}
	slot := int(addr-microvmVirtioBase) / microvmVirtioStride
	base := microvmVirtioIRQBase
	for _, io := range microvm.M.IOAPICs {
		if io.GSIBase == microvmVirtioIRQBaseIOA2 {
			base = microvmVirtioIRQBaseIOA2
		}
	}
	return base + slot, true
}

// wireMMIOIRQ routes the interrupt of the virtio-mmio transport at addr to
// handler. When it fails the caller keeps the driver in polling mode, and
// the reason goes to the log.
func wireMMIOIRQ(name string, addr uintptr, handler func()) (*microvm.IRQ, error) {
	gsi, ok := virtioGSI(addr)
	if !ok {
		return nil, fmt.Errorf("%s: no interrupt line known for the transport at %#x", name, addr)
	}
	q, err := microvm.AllocIRQ(name, handler)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := microvm.RouteGSI(q, gsi); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	kernel.Klog.Infof("irq: %s at %#x: gsi %d -> vector %#x", name, addr, gsi, q.Vector)
	return q, nil
}

// IRQStat is one routed device interrupt, for status pages.
type IRQStat struct {
	Name   string `json:"name"`
	Vector int    `json:"vector"`
	GSI    int    `json:"gsi"` // -1: MSI
	Count  uint64 `json:"count"`
}

// IRQStats lists the device interrupts routed so far with their counts.
func IRQStats() []IRQStat {
	out := []IRQStat{}
	for _, q := range microvm.IRQs() {
		out = append(out, IRQStat{Name: q.Name, Vector: q.Vector, GSI: q.GSI, Count: q.Count()})
	}
	return out
}
