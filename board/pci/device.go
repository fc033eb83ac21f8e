package pci

import "fmt"

// Device is a type 0 function opened for a driver: its configuration
// space and its sized BARs. Its ConfigRead and ConfigWrite16 methods take
// offsets as virtio.PCIDevice does.
type Device struct {
	CS   ConfigSpace
	Addr BDF
	BARs []BAR
}

// Open sizes the function's BARs, then enables its memory decoder and bus
// mastering.
func Open(cs ConfigSpace, f BDF) (*Device, error) {
	bars, err := ReadBARs(cs, f)
	if err != nil {
		return nil, err
	}
	Enable(cs, f)
	return &Device{CS: cs, Addr: f, BARs: bars}, nil
}

func (d *Device) ConfigRead8(off uint32) uint8 {
	if off >= ConfigSize {
		return 0xff
	}
	return Read8(d.CS, d.Addr, uint16(off))
}

func (d *Device) ConfigRead16(off uint32) uint16 {
	if off >= ConfigSize-1 || off&1 != 0 {
		return 0xffff
	}
	return Read16(d.CS, d.Addr, uint16(off))
}

func (d *Device) ConfigRead32(off uint32) uint32 {
	if off >= ConfigSize-3 || off&3 != 0 {
		return 0xffffffff
	}
	return d.CS.Read32(d.Addr, uint16(off))
}

func (d *Device) ConfigWrite16(off uint32, v uint16) {
	if off < ConfigSize-1 && off&1 == 0 {
		d.CS.Write16(d.Addr, uint16(off), v)
	}
}

// MemBAR returns memory BAR i; register windows are addressed with 32-bit
// offsets, so a BAR of 4 GiB or more is refused.
func (d *Device) MemBAR(i int) (BAR, error) {
	b, err := FindBAR(d.BARs, i)
	if err != nil {
		return BAR{}, fmt.Errorf("pci %v: %w", d.Addr, err)
	}
	if b.IO {
		return BAR{}, fmt.Errorf("pci %v: BAR %d is an I/O BAR", d.Addr, i)
	}
	if b.Size > 1<<32-1 {
		return BAR{}, fmt.Errorf("pci %v: BAR %d is %d bytes", d.Addr, i, b.Size)
	}
	return b, nil
}
