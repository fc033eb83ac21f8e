package virtio

import "fmt"

// MMIO device register layout (virtio 1.2 §4.2.2, Table 4.1).
const (
	MMIOMagicValue        = 0x000 // 0x74726976 "virt"
	MMIOVersion           = 0x004 // 2 for virtio 1.x (1 is legacy)
	MMIODeviceID          = 0x008
	MMIOVendorID          = 0x00c
	MMIODeviceFeatures    = 0x010
	MMIODeviceFeaturesSel = 0x014
	MMIODriverFeatures    = 0x020
	MMIODriverFeaturesSel = 0x024
	MMIOQueueSel          = 0x030
	MMIOQueueNumMax       = 0x034
	MMIOQueueNum          = 0x038
	MMIOQueueReady        = 0x044
	MMIOQueueNotify       = 0x050
	MMIOInterruptStatus   = 0x060
	MMIOInterruptACK      = 0x064
	MMIOStatus            = 0x070
	MMIOQueueDescLow      = 0x080
	MMIOQueueDescHigh     = 0x084
	MMIOQueueDriverLow    = 0x090
	MMIOQueueDriverHigh   = 0x094
	MMIOQueueDeviceLow    = 0x0a0
	MMIOQueueDeviceHigh   = 0x0a4
	MMIOConfigGeneration  = 0x0fc
	MMIOConfig            = 0x100

	MMIOMagic = 0x74726976
)

// MMIO is the virtio-mmio transport (§4.2) over a register window.
type MMIO struct{ r Regs }

// NewMMIO checks the magic value and version (§4.2.3.1.1: the driver must
// ignore a device with version 1 or other than 2; device ID 0 means an
// empty slot) and returns the transport.
func NewMMIO(r Regs) (*MMIO, error) {
	if m := r.Read32(MMIOMagicValue); m != MMIOMagic {
		return nil, fmt.Errorf("virtio-mmio: bad magic %#x", m)
	}
	if v := r.Read32(MMIOVersion); v != 2 {
		return nil, fmt.Errorf("virtio-mmio: version %d (want 2, modern)", v)
	}
	if r.Read32(MMIODeviceID) == 0 {
		return nil, fmt.Errorf("virtio-mmio: empty slot (device id 0)")
	}
	return &MMIO{r: r}, nil
}

func (m *MMIO) DeviceID() uint32 { return m.r.Read32(MMIODeviceID) }

func (m *MMIO) DeviceFeatures() uint64 {
	m.r.Write32(MMIODeviceFeaturesSel, 0)
	lo := m.r.Read32(MMIODeviceFeatures)
	m.r.Write32(MMIODeviceFeaturesSel, 1)
	hi := m.r.Read32(MMIODeviceFeatures)
	return uint64(hi)<<32 | uint64(lo)
}

func (m *MMIO) SetDriverFeatures(f uint64) {
	m.r.Write32(MMIODriverFeaturesSel, 0)
	m.r.Write32(MMIODriverFeatures, uint32(f))
	m.r.Write32(MMIODriverFeaturesSel, 1)
	m.r.Write32(MMIODriverFeatures, uint32(f>>32))
}

func (m *MMIO) Status() uint8            { return uint8(m.r.Read32(MMIOStatus)) }
func (m *MMIO) SetStatus(s uint8)        { m.r.Write32(MMIOStatus, uint32(s)) }
func (m *MMIO) Notify(q int)             { m.r.Write32(MMIOQueueNotify, uint32(q)) }
func (m *MMIO) ConfigGeneration() uint32 { return m.r.Read32(MMIOConfigGeneration) }

func (m *MMIO) MaxQueueSize(q int) int {
	m.r.Write32(MMIOQueueSel, uint32(q))
	return int(m.r.Read32(MMIOQueueNumMax))
}

// SetQueue follows §4.2.3.2.
func (m *MMIO) SetQueue(q *Queue) error {
	m.r.Write32(MMIOQueueSel, uint32(q.Index()))
	if m.r.Read32(MMIOQueueReady) != 0 {
		return fmt.Errorf("virtio-mmio: queue %d already in use", q.Index())
	}
	max := int(m.r.Read32(MMIOQueueNumMax))
	if max == 0 || q.Size() > max {
		return fmt.Errorf("virtio-mmio: queue %d: size %d, device max %d", q.Index(), q.Size(), max)
	}
	m.r.Write32(MMIOQueueNum, uint32(q.Size()))
	d, drv, dev := q.Addrs()
	m.r.Write32(MMIOQueueDescLow, uint32(d))
	m.r.Write32(MMIOQueueDescHigh, uint32(d>>32))
	m.r.Write32(MMIOQueueDriverLow, uint32(drv))
	m.r.Write32(MMIOQueueDriverHigh, uint32(drv>>32))
	m.r.Write32(MMIOQueueDeviceLow, uint32(dev))
	m.r.Write32(MMIOQueueDeviceHigh, uint32(dev>>32))
	m.r.Write32(MMIOQueueReady, 1)
	return nil
}

func (m *MMIO) ReadConfig8(off uint32) uint8   { return m.r.Read8(MMIOConfig + off) }
func (m *MMIO) ReadConfig16(off uint32) uint16 { return m.r.Read16(MMIOConfig + off) }
func (m *MMIO) ReadConfig32(off uint32) uint32 { return m.r.Read32(MMIOConfig + off) }

func (m *MMIO) AckInterrupt() uint32 {
	s := m.r.Read32(MMIOInterruptStatus)
	if s != 0 {
		m.r.Write32(MMIOInterruptACK, s)
	}
	return s
}

// MMIOSlot is a populated virtio-mmio slot found by ProbeMMIO.
type MMIOSlot struct {
	Index    int
	Addr     uintptr
	DeviceID uint32
	Regs     Regs
}

// ProbeMMIO scans n register windows of size stride from base (QEMU
// microvm: 0xfeb00000, 0x200 each, one IRQ per slot) and returns the
// modern devices present; empty slots (device ID 0), legacy devices and
// non-virtio windows are skipped. regs maps a physical address to its
// register window (NewPhysRegs in the guest).
func ProbeMMIO(base, stride uintptr, n int, regs func(addr uintptr) Regs) []MMIOSlot {
	var found []MMIOSlot
	for i := 0; i < n; i++ {
		a := base + uintptr(i)*stride
		r := regs(a)
		m, err := NewMMIO(r)
		if err != nil {
			continue
		}
		found = append(found, MMIOSlot{Index: i, Addr: a, DeviceID: m.DeviceID(), Regs: r})
	}
	return found
}
