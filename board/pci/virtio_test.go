package pci_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"damselfly/blk"
	"damselfly/board/pci"
	"damselfly/virtio"
	"damselfly/virtio/vblk"
	"damselfly/virtio/virtiosim"
)

// simSpace puts a simulated virtio-pci function (virtiosim.PCI) at
// 00:03.0 of a configuration space, with the simulator's BAR 4 behind a
// 64-bit BAR register pair that sizes like hardware.
type simSpace struct {
	sim    *virtiosim.PCI
	at     pci.BDF
	bar    [2]uint32 // BAR 4 low and high halves
	cmd    uint16
	barLen uint64
}

const simBarAddr = 0x20_0000_0000

func (s *simSpace) Read32(f pci.BDF, off uint16) uint32 {
	if f != s.at {
		return 0xffffffff
	}
	switch off {
	case pci.Command:
		return uint32(s.cmd) | uint32(s.sim.ConfigRead16(pci.Status))<<16
	case pci.BAR0 + 16:
		return s.bar[0]
	case pci.BAR0 + 20:
		return s.bar[1]
	case pci.BAR0, pci.BAR0 + 4, pci.BAR0 + 8, pci.BAR0 + 12:
		return 0
	}
	return s.sim.ConfigRead32(uint32(off))
}

func (s *simSpace) Write32(f pci.BDF, off uint16, v uint32) {
	if f != s.at {
		return
	}
	mask := ^(s.barLen - 1)
	switch off {
	case pci.BAR0 + 16:
		s.bar[0] = v&uint32(mask)&^0xf | 0xc // 64-bit, prefetchable
	case pci.BAR0 + 20:
		s.bar[1] = v & uint32(mask>>32)
	}
}

func (s *simSpace) Write16(f pci.BDF, off uint16, v uint16) {
	if f != s.at {
		return
	}
	if off == pci.Command {
		s.cmd = v
		return
	}
	s.sim.ConfigWrite16(uint32(off), v)
}

func (s *simSpace) Buses() (uint8, uint8) { return 0, 0 }
func (s *simSpace) Name() string          { return "sim" }

// simFunction is what kernel/devices builds over a pci.Device: BARs as
// register windows, here the simulator's.
type simFunction struct {
	*pci.Device
	s *simSpace
}

func (f simFunction) BAR(i int) (virtio.Regs, error) {
	b, err := f.MemBAR(i)
	if err != nil {
		return nil, err
	}
	if b.Addr != simBarAddr {
		return nil, fmt.Errorf("BAR %d at %#x, the simulator's is at %#x", i, b.Addr, uint64(simBarAddr))
	}
	r, err := f.s.sim.BAR(i)
	if err != nil {
		return nil, err
	}
	return virtio.NewWindow(r, uint32(b.Size)), nil
}

// A virtio-blk function found by Scan, opened through pci.Open and driven
// by vblk over MSI-X: the configuration accessors of pci.Device (bytes and
// words cut from dwords, 16-bit writes) are what virtio's capability walk
// and MSI-X enable need.
func TestVirtioOverPCI(t *testing.T) {
	img := make([]byte, 1<<20)
	for i := range img {
		img[i] = byte(i * 7)
	}
	mem := virtiosim.NewMemory()
	sim := virtiosim.NewBlk(mem, img, virtiosim.BlkOptions{Queues: 2, FailAt: -1})
	defer sim.Close()
	s := &simSpace{sim: virtiosim.NewPCI(sim.Device), at: pci.BDF{Bus: 0, Dev: 3, Fn: 0}, barLen: 0x8000}
	addr := uint64(simBarAddr)
	s.bar = [2]uint32{uint32(addr) | 0xc, uint32(addr >> 32)}

	fns, warns := pci.Scan(s)
	if len(fns) != 1 || len(warns) != 0 {
		t.Fatalf("scan: %v %v", fns, warns)
	}
	id, ok := virtio.PCIDeviceType(fns[0].Vendor, fns[0].Device, fns[0].SubID)
	if !ok || id != virtio.DeviceBlock {
		t.Fatalf("%v: type %d %v", fns[0], id, ok)
	}
	d, err := pci.Open(s, fns[0].BDF)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.BARs) != 1 || d.BARs[0].Size != s.barLen || s.cmd&(pci.CmdMemory|pci.CmdBusMaster) != pci.CmdMemory|pci.CmdBusMaster {
		t.Fatalf("bars %v command %#x", d.BARs, s.cmd)
	}
	tr, err := virtio.NewPCI(simFunction{d, s})
	if err != nil {
		t.Fatal(err)
	}
	n, err := tr.EnableMSIX(func(v int) (uint64, uint32) { return 0xfee00000, uint32(0x30 + v) })
	if err != nil || n != 3 {
		t.Fatalf("EnableMSIX: %d %v", n, err)
	}
	drv, err := vblk.New(tr, mem, vblk.Options{Name: "vda", Queues: 2})
	if err != nil {
		t.Fatal(err)
	}
	sim.SetMSIXHandler(func(v uint16) {
		for q := range drv.NumQueues() {
			if tr.QueueVector(q) == int(v) {
				drv.InterruptQueue(q)
			}
		}
	})
	sim.SetInterrupt(func() { t.Error("INTx with MSI-X enabled") })
	disk := blk.NewDisk(drv, blk.Config{})
	defer disk.Close()
	b := make([]byte, 8192)
	if _, err := disk.Object().ReadAt(b, 4096); err != nil || !bytes.Equal(b, img[4096:4096+8192]) {
		t.Fatalf("read: %v", err)
	}
	if v := binary.LittleEndian.Uint16(s.sim.Cfg[0x84+2:]); v&0x8000 == 0 {
		t.Errorf("MSI-X not enabled in the capability: %#x", v)
	}
}
