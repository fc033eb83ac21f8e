package virtiosim

import (
	"encoding/binary"
	"fmt"

	"damselfly/virtio"
)

// Layout of the simulated function: all virtio structures in BAR 4.
const (
	pciBar       = 4
	barCommon    = 0x0000
	barNotify    = 0x1000
	barISR       = 0x2000
	barDevice    = 0x3000
	notifyMult   = 4
	capCommonPos = 0x40
	capNotifyPos = 0x50
	capISRPos    = 0x64
	capDevicePos = 0x74
	capMSIXPos   = 0x84
	barMSIXTable = 0x4000
	barMSIXPBA   = 0x5000
)

// PCI is a simulated virtio PCI function (virtio 1.2 §4.1): Cfg is its
// configuration space (tests may corrupt it) and BAR 4 holds the common,
// notify, ISR and device structures. It implements virtio.PCIDevice.
type PCI struct {
	D   *Device
	Cfg [256]byte
}

// NewPCI builds the configuration space with the capability chain
// common -> notify -> isr -> device -> MSI-X.
func NewPCI(d *Device) *PCI {
	p := &PCI{D: d}
	c := p.Cfg[:]
	binary.LittleEndian.PutUint16(c[virtio.PCIVendorID:], virtio.VirtioPCIVendor)
	binary.LittleEndian.PutUint16(c[virtio.PCIDeviceID:], uint16(virtio.VirtioPCIModernBase+d.ID))
	binary.LittleEndian.PutUint16(c[virtio.PCIStatus:], virtio.PCIStatusCapList)
	c[virtio.PCICapPtr] = capCommonPos
	vcap := func(pos, next, typ uint8, off, n uint32, ln uint8) {
		c[pos] = virtio.PCICapVendor
		c[pos+1] = next
		c[pos+2] = ln
		c[pos+virtio.PCICapCfgType] = typ
		c[pos+virtio.PCICapBar] = pciBar
		binary.LittleEndian.PutUint32(c[pos+virtio.PCICapOffset:], off)
		binary.LittleEndian.PutUint32(c[pos+virtio.PCICapLength:], n)
	}
	vcap(capCommonPos, capNotifyPos, virtio.PCICapCommonCfg, barCommon, virtio.CommonCfgLen, 16)
	vcap(capNotifyPos, capISRPos, virtio.PCICapNotifyCfg, barNotify, 0x1000, 20)
	binary.LittleEndian.PutUint32(c[capNotifyPos+virtio.PCINotifyMult:], notifyMult)
	vcap(capISRPos, capDevicePos, virtio.PCICapISRCfg, barISR, 1, 16)
	vcap(capDevicePos, capMSIXPos, virtio.PCICapDeviceCfg, barDevice, uint32(len(d.Config)), 16)
	c[capMSIXPos] = virtio.PCICapMSIX
	c[capMSIXPos+1] = 0
	binary.LittleEndian.PutUint16(c[capMSIXPos+2:], uint16(len(d.queues))) // table size - 1
	binary.LittleEndian.PutUint32(c[capMSIXPos+4:], barMSIXTable|pciBar)
	binary.LittleEndian.PutUint32(c[capMSIXPos+8:], barMSIXPBA|pciBar)
	return p
}

func (p *PCI) ConfigRead8(off uint32) uint8 {
	if off >= 256 {
		return 0xff
	}
	return p.Cfg[off]
}

func (p *PCI) ConfigRead16(off uint32) uint16 {
	if off > 254 {
		return 0xffff
	}
	return binary.LittleEndian.Uint16(p.Cfg[off:])
}

func (p *PCI) ConfigRead32(off uint32) uint32 {
	if off > 252 {
		return 0xffffffff
	}
	return binary.LittleEndian.Uint32(p.Cfg[off:])
}

// ConfigWrite16 writes configuration space; only MSI-X Message Control's
// enable and function-mask bits are writable here.
func (p *PCI) ConfigWrite16(off uint32, v uint16) {
	if off != capMSIXPos+2 {
		return
	}
	mc := binary.LittleEndian.Uint16(p.Cfg[off:])&0x07ff | v&0xc000
	binary.LittleEndian.PutUint16(p.Cfg[off:], mc)
	p.D.mu.Lock()
	p.D.msixOn = mc&0x8000 != 0 && mc&0x4000 == 0
	p.D.mu.Unlock()
}

func (p *PCI) BAR(i int) (virtio.Regs, error) {
	if i != pciBar {
		return nil, fmt.Errorf("virtiosim: BAR %d not implemented", i)
	}
	return bar{p.D}, nil
}

// bar decodes BAR 4.
type bar struct{ d *Device }

func (b bar) read(off uint32, n int) uint32 {
	d := b.d
	if off >= barDevice && off < barMSIXTable {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.configRead(off-barDevice, n)
	}
	if off >= barMSIXTable && off < barMSIXPBA {
		d.mu.Lock()
		defer d.mu.Unlock()
		o := int(off - barMSIXTable)
		if o+n > len(d.msixTable) {
			return 0xffffffff
		}
		var v uint32
		for i := 0; i < n; i++ {
			v |= uint32(d.msixTable[o+i]) << (8 * i)
		}
		return v
	}
	if off >= barMSIXPBA {
		return 0
	}
	if off == barISR {
		d.mu.Lock()
		defer d.mu.Unlock()
		v := d.isr
		d.isr = 0 // reading clears (§4.1.4.5)
		return v
	}
	if off >= barNotify {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.sel()
	switch off {
	case virtio.CommonDeviceFeature:
		return d.deviceFeatures()
	case virtio.CommonDeviceFeatureSel:
		return d.devSel
	case virtio.CommonNumQueues:
		return uint32(len(d.queues))
	case virtio.CommonDeviceStatus:
		return uint32(d.status)
	case virtio.CommonConfigGeneration:
		return d.gen
	case virtio.CommonQueueSelect:
		return d.qsel
	case virtio.CommonMSIXConfig:
		return uint32(d.configVec)
	}
	if q == nil {
		return 0
	}
	switch off {
	case virtio.CommonQueueSize:
		if q.num != 0 {
			return uint32(q.num)
		}
		return uint32(q.max)
	case virtio.CommonQueueEnable:
		if q.ready {
			return 1
		}
	case virtio.CommonQueueNotifyOff:
		return uint32(q.notifyOff)
	case virtio.CommonQueueMSIXVector:
		return uint32(q.vec)
	}
	return 0
}

func (b bar) write(off uint32, v uint32) {
	d := b.d
	if off >= barNotify && off < barISR {
		q := (off - barNotify) / notifyMult
		if q != v {
			d.Report(fmt.Errorf("virtiosim: notify for queue %d written at queue %d's doorbell", v, q))
		}
		d.notify(v)
		return
	}
	if off >= barMSIXTable && off < barMSIXPBA {
		d.mu.Lock()
		o := int(off - barMSIXTable)
		if o+4 <= len(d.msixTable) {
			binary.LittleEndian.PutUint32(d.msixTable[o:], v)
		}
		d.mu.Unlock()
		return
	}
	if off >= barNotify {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.sel()
	lo := func(p *uint64) { *p = *p&^0xffffffff | uint64(v) }
	hi := func(p *uint64) { *p = *p&0xffffffff | uint64(v)<<32 }
	switch off {
	case virtio.CommonDeviceFeatureSel:
		d.devSel = v
	case virtio.CommonDriverFeatureSel:
		d.drvSel = v
	case virtio.CommonDriverFeature:
		d.setDriverFeatures(v)
	case virtio.CommonDeviceStatus:
		d.setStatus(uint8(v))
	case virtio.CommonQueueSelect:
		d.qsel = v
	case virtio.CommonMSIXConfig:
		d.configVec = d.vector(v)
	}
	if q == nil {
		return
	}
	switch off {
	case virtio.CommonQueueSize:
		if q.num = uint16(v); q.num > q.max {
			d.errorf(errBadQueue(int(d.qsel), q.num))
		}
	case virtio.CommonQueueMSIXVector:
		q.vec = d.vector(v)
	case virtio.CommonQueueEnable:
		if v == 1 && !q.ready {
			if q.num == 0 {
				q.num = q.max
			}
			d.enableQueue(q, int(d.qsel))
		}
	case virtio.CommonQueueDesc:
		lo(&q.desc)
	case virtio.CommonQueueDesc + 4:
		hi(&q.desc)
	case virtio.CommonQueueDriver:
		lo(&q.drv)
	case virtio.CommonQueueDriver + 4:
		hi(&q.drv)
	case virtio.CommonQueueDevice:
		lo(&q.dev)
	case virtio.CommonQueueDevice + 4:
		hi(&q.dev)
	}
}

func (b bar) Read8(off uint32) uint8       { return uint8(b.read(off, 1)) }
func (b bar) Read16(off uint32) uint16     { return uint16(b.read(off, 2)) }
func (b bar) Read32(off uint32) uint32     { return b.read(off, 4) }
func (b bar) Write8(off uint32, v uint8)   { b.write(off, uint32(v)) }
func (b bar) Write16(off uint32, v uint16) { b.write(off, uint32(v)) }
func (b bar) Write32(off uint32, v uint32) { b.write(off, v) }

// vector accepts a vector number the table has, else NO_VECTOR (the
// device's way of refusing, §4.1.5.1.2).
func (d *Device) vector(v uint32) uint16 {
	if int(v) < len(d.msixTable)/16 {
		return uint16(v)
	}
	return NoVector
}
