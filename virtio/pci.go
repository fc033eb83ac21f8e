package virtio

import (
	"errors"
	"fmt"
	"sync"
)

// PCIDevice is a PCI function: its configuration space and register
// windows over its BARs (mapped by the board).
type PCIDevice interface {
	ConfigRead8(off uint32) uint8
	ConfigRead16(off uint32) uint16
	ConfigRead32(off uint32) uint32
	BAR(i int) (Regs, error)
}

// PCI configuration space (PCI Local Bus 3.0 §6.1, §6.7) and virtio's
// vendor-specific capability (virtio 1.2 §4.1.4).
const (
	PCIVendorID      = 0x00
	PCIDeviceID      = 0x02
	PCIStatus        = 0x06
	PCISubsystemID   = 0x2e
	PCICapPtr        = 0x34
	PCIStatusCapList = 1 << 4
	PCICapVendor     = 0x09 // cap_vndr of virtio capabilities
	PCICapMSIX       = 0x11

	VirtioPCIVendor      = 0x1af4
	VirtioPCIModernBase  = 0x1040 // device ID = 0x1040 + virtio device id (§4.1.2.1)
	VirtioPCITransitionA = 0x1000 // transitional IDs 0x1000..0x103f
	VirtioPCITransitionB = 0x103f

	// struct virtio_pci_cap
	PCICapCfgType = 3
	PCICapBar     = 4
	PCICapOffset  = 8
	PCICapLength  = 12
	PCINotifyMult = 16 // virtio_pci_notify_cap.notify_off_multiplier

	PCICapCommonCfg = 1
	PCICapNotifyCfg = 2
	PCICapISRCfg    = 3
	PCICapDeviceCfg = 4
	PCICapPCICfg    = 5

	// struct virtio_pci_common_cfg (§4.1.4.3)
	CommonDeviceFeatureSel = 0
	CommonDeviceFeature    = 4
	CommonDriverFeatureSel = 8
	CommonDriverFeature    = 12
	CommonMSIXConfig       = 16
	CommonNumQueues        = 18
	CommonDeviceStatus     = 20
	CommonConfigGeneration = 21
	CommonQueueSelect      = 22
	CommonQueueSize        = 24
	CommonQueueMSIXVector  = 26
	CommonQueueEnable      = 28
	CommonQueueNotifyOff   = 30
	CommonQueueDesc        = 32
	CommonQueueDriver      = 40
	CommonQueueDevice      = 48
	CommonCfgLen           = 56
)

// PCICap is one parsed virtio capability.
type PCICap struct {
	Pos     uint32 // offset in configuration space
	CfgType uint8
	Bar     uint8
	Offset  uint32
	Length  uint32
	Mult    uint32 // notify_off_multiplier (notify capability only)
}

// ParsePCICaps walks the capability list and returns the virtio ones, in
// list order. A malformed list (loop, pointer into the header, out of the
// 256-byte space) is refused with the reason.
func ParsePCICaps(c PCIDevice) ([]PCICap, error) {
	if c.ConfigRead16(PCIStatus)&PCIStatusCapList == 0 {
		return nil, errors.New("virtio-pci: no capability list")
	}
	var caps []PCICap
	seen := map[uint32]bool{}
	for p := uint32(c.ConfigRead8(PCICapPtr)) &^ 3; p != 0; p = uint32(c.ConfigRead8(p+1)) &^ 3 {
		if p < 0x40 || p > 0xff-4 {
			return nil, fmt.Errorf("virtio-pci: capability pointer %#x outside device space", p)
		}
		if seen[p] {
			return nil, fmt.Errorf("virtio-pci: capability list loops at %#x", p)
		}
		seen[p] = true
		if c.ConfigRead8(p) != PCICapVendor {
			continue
		}
		if p+PCICapLength+4 > 0x100 || c.ConfigRead8(p+2) < 16 {
			return nil, fmt.Errorf("virtio-pci: capability at %#x too short", p)
		}
		cp := PCICap{
			Pos:     p,
			CfgType: c.ConfigRead8(p + PCICapCfgType),
			Bar:     c.ConfigRead8(p + PCICapBar),
			Offset:  c.ConfigRead32(p + PCICapOffset),
			Length:  c.ConfigRead32(p + PCICapLength),
		}
		if cp.CfgType == PCICapNotifyCfg {
			if c.ConfigRead8(p+2) < 20 || p+PCINotifyMult+4 > 0x100 {
				return nil, fmt.Errorf("virtio-pci: notify capability at %#x too short", p)
			}
			cp.Mult = c.ConfigRead32(p + PCINotifyMult)
		}
		caps = append(caps, cp)
	}
	return caps, nil
}

// window is a bounds-checked sub-range of a register window; accesses
// outside it read as all ones and are dropped, like an unclaimed bus cycle.
type window struct {
	r    Regs
	base uint32
	n    uint32
}

func (w window) ok(off, size uint32) bool { return off+size <= w.n && off+size >= off }

func (w window) Read8(off uint32) uint8 {
	if !w.ok(off, 1) {
		return 0xff
	}
	return w.r.Read8(w.base + off)
}
func (w window) Read16(off uint32) uint16 {
	if !w.ok(off, 2) {
		return 0xffff
	}
	return w.r.Read16(w.base + off)
}
func (w window) Read32(off uint32) uint32 {
	if !w.ok(off, 4) {
		return 0xffffffff
	}
	return w.r.Read32(w.base + off)
}
func (w window) Write8(off uint32, v uint8) {
	if w.ok(off, 1) {
		w.r.Write8(w.base+off, v)
	}
}
func (w window) Write16(off uint32, v uint16) {
	if w.ok(off, 2) {
		w.r.Write16(w.base+off, v)
	}
}
func (w window) Write32(off uint32, v uint32) {
	if w.ok(off, 4) {
		w.r.Write32(w.base+off, v)
	}
}

// NewWindow bounds a register window to its first n bytes: accesses
// beyond read as all ones and are dropped (a BAR smaller than the
// structures a capability claims in it must not reach the next device).
func NewWindow(r Regs, n uint32) Regs { return window{r: r, n: n} }

// PCIConfigWriter is implemented by PCI functions whose configuration space
// can be written (needed to enable MSI-X).
type PCIConfigWriter interface {
	ConfigWrite16(off uint32, v uint16)
}

// MSI-X capability (PCI Local Bus 3.0 §6.8.2).
const (
	MSIXMsgCtl      = 2 // Message Control: table size - 1 (10:0), function mask (14), enable (15)
	MSIXTable       = 4 // Table Offset/BIR
	MSIXCtlSizeMask = 0x07ff
	MSIXCtlMask     = 1 << 14
	MSIXCtlEnable   = 1 << 15
	MSIXEntrySize   = 16 // addr lo, addr hi, data, vector control (bit 0: masked)
	MSIXBIRMask     = 7

	// NoVector is VIRTIO_MSI_NO_VECTOR (§4.1.4.3).
	NoVector = 0xffff
)

// PCI is the modern virtio-pci transport (§4.1). Interrupts use INTx and
// the ISR status unless EnableMSIX programmed per-queue vectors.
type PCI struct {
	dev      PCIDevice
	id       uint32
	common   window
	notify   window
	isr      window
	devcfg   window
	mult     uint32
	mu       sync.Mutex // notifyOff
	notifOff map[int]uint32
	msixVecs int // vectors in use after EnableMSIX; 0: INTx
}

// PCIDeviceType returns the virtio device type (DeviceNet, DeviceBlock...)
// of a PCI function from its IDs (§4.1.2.1): 0x1040 + type for modern
// devices; for transitional ones (0x1000-0x103f) the subsystem ID holds
// the type. A transitional function still needs the modern capabilities,
// which NewPCI checks.
func PCIDeviceType(vendor, device, subsystem uint16) (uint32, bool) {
	switch {
	case vendor != VirtioPCIVendor:
		return 0, false
	case device >= VirtioPCIModernBase && device <= VirtioPCIModernBase+0x3f:
		return uint32(device - VirtioPCIModernBase), true
	case device >= VirtioPCITransitionA && device <= VirtioPCITransitionB:
		return uint32(subsystem), subsystem != 0
	}
	return 0, false
}

// NewPCI identifies a virtio PCI function and maps its structures.
func NewPCI(dev PCIDevice) (*PCI, error) {
	if v := dev.ConfigRead16(PCIVendorID); v != VirtioPCIVendor {
		return nil, fmt.Errorf("virtio-pci: vendor %#x is not virtio", v)
	}
	did := dev.ConfigRead16(PCIDeviceID)
	id, ok := PCIDeviceType(VirtioPCIVendor, did, dev.ConfigRead16(PCISubsystemID))
	if !ok {
		return nil, fmt.Errorf("virtio-pci: device id %#x out of range", did)
	}
	caps, err := ParsePCICaps(dev)
	if err != nil {
		return nil, err
	}
	p := &PCI{dev: dev, id: id, notifOff: map[int]uint32{}}
	have := map[uint8]bool{}
	for _, c := range caps {
		if have[c.CfgType] || c.CfgType < PCICapCommonCfg || c.CfgType > PCICapDeviceCfg {
			continue // the first of each type is the one to use (§4.1.4)
		}
		if c.Bar > 5 {
			continue // reserved BAR values are ignored (§4.1.4)
		}
		r, err := dev.BAR(int(c.Bar))
		if err != nil {
			return nil, fmt.Errorf("virtio-pci: BAR %d: %w", c.Bar, err)
		}
		w := window{r: r, base: c.Offset, n: c.Length}
		switch c.CfgType {
		case PCICapCommonCfg:
			if c.Length < CommonCfgLen {
				return nil, fmt.Errorf("virtio-pci: common config %d bytes", c.Length)
			}
			p.common = w
		case PCICapNotifyCfg:
			p.notify, p.mult = w, c.Mult
		case PCICapISRCfg:
			p.isr = w
		case PCICapDeviceCfg:
			p.devcfg = w
		}
		have[c.CfgType] = true
	}
	for _, t := range []uint8{PCICapCommonCfg, PCICapNotifyCfg, PCICapISRCfg} {
		if !have[t] {
			return nil, fmt.Errorf("virtio-pci: capability type %d missing", t)
		}
	}
	return p, nil
}

func (p *PCI) DeviceID() uint32 { return p.id }

func (p *PCI) DeviceFeatures() uint64 {
	p.common.Write32(CommonDeviceFeatureSel, 0)
	lo := p.common.Read32(CommonDeviceFeature)
	p.common.Write32(CommonDeviceFeatureSel, 1)
	hi := p.common.Read32(CommonDeviceFeature)
	return uint64(hi)<<32 | uint64(lo)
}

func (p *PCI) SetDriverFeatures(f uint64) {
	p.common.Write32(CommonDriverFeatureSel, 0)
	p.common.Write32(CommonDriverFeature, uint32(f))
	p.common.Write32(CommonDriverFeatureSel, 1)
	p.common.Write32(CommonDriverFeature, uint32(f>>32))
}

func (p *PCI) Status() uint8 { return p.common.Read8(CommonDeviceStatus) }

// SetStatus writes device_status. A reset also unmaps the configuration
// vector (QEMU's virtio_reset sets it to NO_VECTOR), so with MSI-X on the
// first step after a reset (ACKNOWLEDGE, §3.1.1) maps it again; queue
// vectors are mapped by SetQueue.
func (p *PCI) SetStatus(s uint8) {
	p.common.Write8(CommonDeviceStatus, s)
	if s == StatusAcknowledge && p.msixVecs > 0 {
		p.common.Write16(CommonMSIXConfig, 0)
	}
}

func (p *PCI) ConfigGeneration() uint32 { return uint32(p.common.Read8(CommonConfigGeneration)) }
func (p *PCI) NumQueues() int           { return int(p.common.Read16(CommonNumQueues)) }

func (p *PCI) MaxQueueSize(q int) int {
	if q >= p.NumQueues() {
		return 0
	}
	p.common.Write16(CommonQueueSelect, uint16(q))
	return int(p.common.Read16(CommonQueueSize))
}

// SetQueue follows §4.1.5.1.3; 64-bit fields are written as two 32-bit
// halves (§4.1.3.1 allows it).
func (p *PCI) SetQueue(q *Queue) error {
	max := p.MaxQueueSize(q.Index())
	if max == 0 || q.Size() > max {
		return fmt.Errorf("virtio-pci: queue %d: size %d, device max %d", q.Index(), q.Size(), max)
	}
	c := p.common
	c.Write16(CommonQueueSize, uint16(q.Size()))
	d, drv, dev := q.Addrs()
	for _, f := range []struct {
		off uint32
		v   uint64
	}{{CommonQueueDesc, d}, {CommonQueueDriver, drv}, {CommonQueueDevice, dev}} {
		c.Write32(f.off, uint32(f.v))
		c.Write32(f.off+4, uint32(f.v>>32))
	}
	if p.msixVecs > 0 {
		v := p.QueueVector(q.Index())
		c.Write16(CommonQueueMSIXVector, uint16(v))
		if got := c.Read16(CommonQueueMSIXVector); got != uint16(v) {
			return fmt.Errorf("virtio-pci: queue %d: device refused MSI-X vector %d (%#x)", q.Index(), v, got)
		}
	}
	off := uint32(c.Read16(CommonQueueNotifyOff)) * p.mult
	if !p.notify.ok(off, 2) {
		return fmt.Errorf("virtio-pci: queue %d notify offset %d outside the notify region", q.Index(), off)
	}
	p.mu.Lock()
	p.notifOff[q.Index()] = off
	p.mu.Unlock()
	c.Write16(CommonQueueEnable, 1)
	return nil
}

// Notify writes the queue index to the queue's doorbell (§4.1.5.2).
func (p *PCI) Notify(q int) {
	p.mu.Lock()
	off, ok := p.notifOff[q]
	p.mu.Unlock()
	if ok {
		p.notify.Write16(off, uint16(q))
	}
}

func (p *PCI) ReadConfig8(off uint32) uint8   { return p.devcfg.Read8(off) }
func (p *PCI) ReadConfig16(off uint32) uint16 { return p.devcfg.Read16(off) }
func (p *PCI) ReadConfig32(off uint32) uint32 { return p.devcfg.Read32(off) }

// AckInterrupt reads the ISR status; reading clears it (§4.1.4.5).
func (p *PCI) AckInterrupt() uint32 { return uint32(p.isr.Read8(0)) }

// EnableMSIX programs the function's MSI-X table and switches the device
// to message interrupts (§4.1.5.1.2, PCI 3.0 §6.8.2): msg(v) gives the
// address and data of vector v (the board's LAPIC message). Vector 0
// carries configuration changes; queues share vectors 1.. round-robin (or
// all use vector 0 if the table has one entry). Call it after NewPCI and
// before the driver sets up its queues; it returns the vectors in use.
// With MSI-X on, the ISR is not used: the handler of a queue's vector
// reaps that queue.
func (p *PCI) EnableMSIX(msg func(vector int) (addr uint64, data uint32)) (int, error) {
	return p.EnableMSIXVectors(0, msg)
}

// EnableMSIXVectors is EnableMSIX using at most max vectors (0: as many
// as the table has), for boards with few vectors to spare; the entries
// beyond stay masked, and queues share vectors 1..max-1.
func (p *PCI) EnableMSIXVectors(max int, msg func(vector int) (addr uint64, data uint32)) (int, error) {
	w, ok := p.dev.(PCIConfigWriter)
	if !ok {
		return 0, errors.New("virtio-pci: configuration space is read-only here")
	}
	pos, err := findPCICap(p.dev, PCICapMSIX)
	if err != nil {
		return 0, err
	}
	ctl := p.dev.ConfigRead16(pos + MSIXMsgCtl)
	n := int(ctl&MSIXCtlSizeMask) + 1
	tbl := p.dev.ConfigRead32(pos + MSIXTable)
	bar, err := p.dev.BAR(int(tbl & MSIXBIRMask))
	if err != nil {
		return 0, fmt.Errorf("virtio-pci: MSI-X table BAR: %w", err)
	}
	t := window{r: bar, base: tbl &^ MSIXBIRMask, n: uint32(n * MSIXEntrySize)}
	if max > 0 && max < n {
		for v := max; v < n; v++ {
			t.Write32(uint32(v*MSIXEntrySize)+12, 1)
		}
		n = max
	}
	for v := 0; v < n; v++ {
		addr, data := msg(v)
		e := uint32(v * MSIXEntrySize)
		t.Write32(e+12, 1) // masked while it changes
		t.Write32(e, uint32(addr))
		t.Write32(e+4, uint32(addr>>32))
		t.Write32(e+8, data)
		t.Write32(e+12, 0)
	}
	w.ConfigWrite16(pos+MSIXMsgCtl, (ctl|MSIXCtlEnable)&^MSIXCtlMask)
	p.common.Write16(CommonMSIXConfig, 0)
	if got := p.common.Read16(CommonMSIXConfig); got != 0 {
		w.ConfigWrite16(pos+MSIXMsgCtl, ctl&^MSIXCtlEnable)
		return 0, fmt.Errorf("virtio-pci: device refused the configuration vector (%#x)", got)
	}
	p.msixVecs = n
	return n, nil
}

// MSIXTableSize returns the number of entries in the function's MSI-X
// table (0 with an error when it has no MSI-X capability).
func (p *PCI) MSIXTableSize() (int, error) {
	pos, err := findPCICap(p.dev, PCICapMSIX)
	if err != nil {
		return 0, err
	}
	return int(p.dev.ConfigRead16(pos+MSIXMsgCtl)&MSIXCtlSizeMask) + 1, nil
}

// QueueVector returns the MSI-X vector of queue q (meaningful after
// EnableMSIX).
func (p *PCI) QueueVector(q int) int {
	if p.msixVecs <= 1 {
		return 0
	}
	return 1 + q%(p.msixVecs-1)
}

// findPCICap returns the position of the first capability with id.
func findPCICap(c PCIDevice, id uint8) (uint32, error) {
	if c.ConfigRead16(PCIStatus)&PCIStatusCapList == 0 {
		return 0, errors.New("virtio-pci: no capability list")
	}
	seen := map[uint32]bool{}
	for p := uint32(c.ConfigRead8(PCICapPtr)) &^ 3; p != 0; p = uint32(c.ConfigRead8(p+1)) &^ 3 {
		if p < 0x40 || p > 0xff-4 || seen[p] {
			return 0, fmt.Errorf("virtio-pci: capability list malformed at %#x", p)
		}
		seen[p] = true
		if c.ConfigRead8(p) == id {
			return p, nil
		}
	}
	return 0, fmt.Errorf("virtio-pci: no capability %#x", id)
}
