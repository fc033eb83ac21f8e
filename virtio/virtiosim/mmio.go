package virtiosim

import "damselfly/virtio"

// MMIO is the device's virtio-mmio register block (virtio 1.2 §4.2.2). It
// implements virtio.Regs.
type MMIO struct{ D *Device }

func (m MMIO) Read32(off uint32) uint32 {
	d := m.D
	if off >= virtio.MMIOConfig {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.configRead(off-virtio.MMIOConfig, 4)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.sel()
	switch off {
	case virtio.MMIOMagicValue:
		return virtio.MMIOMagic
	case virtio.MMIOVersion:
		return 2
	case virtio.MMIODeviceID:
		return d.ID
	case virtio.MMIOVendorID:
		return 0x554d4551 // "QEMU"
	case virtio.MMIODeviceFeatures:
		return d.deviceFeatures()
	case virtio.MMIOQueueNumMax:
		if q == nil {
			return 0
		}
		return uint32(q.max)
	case virtio.MMIOQueueReady:
		if q != nil && q.ready {
			return 1
		}
		return 0
	case virtio.MMIOInterruptStatus:
		return d.isr
	case virtio.MMIOStatus:
		return uint32(d.status)
	case virtio.MMIOConfigGeneration:
		return d.gen
	}
	return 0
}

func (m MMIO) Write32(off uint32, v uint32) {
	d := m.D
	if off == virtio.MMIOQueueNotify {
		d.notify(v)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.sel()
	lo := func(p *uint64) { *p = *p&^0xffffffff | uint64(v) }
	hi := func(p *uint64) { *p = *p&0xffffffff | uint64(v)<<32 }
	switch off {
	case virtio.MMIODeviceFeaturesSel:
		d.devSel = v
	case virtio.MMIODriverFeatures:
		d.setDriverFeatures(v)
	case virtio.MMIODriverFeaturesSel:
		d.drvSel = v
	case virtio.MMIOQueueSel:
		d.qsel = v
	case virtio.MMIOInterruptACK:
		d.isr &^= v
	case virtio.MMIOStatus:
		d.setStatus(uint8(v))
	}
	if q == nil {
		return
	}
	switch off {
	case virtio.MMIOQueueNum:
		q.num = uint16(v)
	case virtio.MMIOQueueReady:
		if v == 1 && !q.ready {
			d.enableQueue(q, int(d.qsel))
		} else if v == 0 {
			q.ready, q.vq = false, nil
		}
	case virtio.MMIOQueueDescLow:
		lo(&q.desc)
	case virtio.MMIOQueueDescHigh:
		hi(&q.desc)
	case virtio.MMIOQueueDriverLow:
		lo(&q.drv)
	case virtio.MMIOQueueDriverHigh:
		hi(&q.drv)
	case virtio.MMIOQueueDeviceLow:
		lo(&q.dev)
	case virtio.MMIOQueueDeviceHigh:
		hi(&q.dev)
	}
}

func (m MMIO) Read8(off uint32) uint8 {
	m.D.mu.Lock()
	defer m.D.mu.Unlock()
	if off < virtio.MMIOConfig {
		return 0
	}
	return uint8(m.D.configRead(off-virtio.MMIOConfig, 1))
}

func (m MMIO) Read16(off uint32) uint16 {
	m.D.mu.Lock()
	defer m.D.mu.Unlock()
	if off < virtio.MMIOConfig {
		return 0
	}
	return uint16(m.D.configRead(off-virtio.MMIOConfig, 2))
}

func (m MMIO) Write8(uint32, uint8)   {}
func (m MMIO) Write16(uint32, uint16) {}
