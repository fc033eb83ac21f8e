// Package pci finds PCI functions and their BARs: configuration space
// access (ECAM from the ACPI MCFG, or configuration mechanism #1 at ports
// 0xcf8/0xcfc), a walk of bus 0 and the buses behind its bridges, BAR
// decoding and sizing, and enabling a function's memory decoder and bus
// mastering.
//
// The hardware is reached through two narrow interfaces (MMIO and PortIO)
// the board implements, so all of it runs on the host against a simulated
// configuration space.
//
// The tamago module's soc/intel/pci package is not used: it reads function
// 0 only (no multi-function devices), has no ECAM (only the ports), masks
// the MSI-X BAR indicator with 0b11 instead of 0b111 and enables MSI-X by
// writing a whole dword over the capability header, does not size BARs or
// mask a 32-bit BAR's flag bits, and touches the ports directly, which
// leaves nothing to test on the host.
//
// References: PCI Local Bus Specification 3.0 (configuration header 6.1,
// command register 6.2.2, BARs 6.2.5.1, mechanism #1 3.2.2.3.2); PCI-to-PCI
// Bridge Architecture 1.2 (type 1 header, 3.2); PCI Express Base 4.0
// (ECAM, 7.2.2).
package pci

import (
	"fmt"
	"sync"
)

// BDF names a function: bus, device (0-31), function (0-7).
type BDF struct {
	Bus, Dev, Fn uint8
}

func (a BDF) String() string { return fmt.Sprintf("%02x:%02x.%x", a.Bus, a.Dev, a.Fn) }

// Configuration header offsets (PCI 3.0, 6.1; bridge 1.2, 3.2).
const (
	VendorID       = 0x00
	DeviceID       = 0x02
	Command        = 0x04
	Status         = 0x06
	RevisionID     = 0x08
	ClassCode      = 0x09 // prog-if, subclass, class (3 bytes)
	HeaderType     = 0x0e
	BAR0           = 0x10
	SubVendorID    = 0x2c
	SubsystemID    = 0x2e
	CapPtr         = 0x34
	InterruptLine  = 0x3c
	InterruptPin   = 0x3d
	PrimaryBus     = 0x18 // type 1
	SecondaryBus   = 0x19 // type 1
	SubordinateBus = 0x1a // type 1

	CmdIO          = 1 << 0
	CmdMemory      = 1 << 1
	CmdBusMaster   = 1 << 2
	CmdIntxDisable = 1 << 10

	HeaderMultiFn = 0x80
	HeaderMask    = 0x7f
	HeaderNormal  = 0
	HeaderBridge  = 1

	// ConfigSize is the conventional configuration space; ECAM has 4 KiB
	// per function, of which this package reads only the first 256 bytes.
	ConfigSize = 256
	ECAMSize   = 4096

	NoVendor = 0xffff // what an absent function reads as
)

// ConfigSpace reads and writes configuration registers. Offsets are
// naturally aligned for their size; reads of absent functions or out of
// range return all ones, writes there are dropped (as on the bus).
type ConfigSpace interface {
	Read32(f BDF, off uint16) uint32
	Write32(f BDF, off uint16, v uint32)
	Write16(f BDF, off uint16, v uint16)
	// Buses is the range of bus numbers this access method reaches.
	Buses() (first, last uint8)
	// Name says which mechanism this is, for the boot log.
	Name() string
}

// Read8 and Read16 extract a byte or a word from its dword.
func Read8(cs ConfigSpace, f BDF, off uint16) uint8 {
	return uint8(cs.Read32(f, off&^3) >> (8 * (off & 3)))
}

func Read16(cs ConfigSpace, f BDF, off uint16) uint16 {
	return uint16(cs.Read32(f, off&^3) >> (8 * (off & 2)))
}

// MMIO is 32- and 16-bit access to physical memory (device registers).
type MMIO interface {
	Read32(addr uint64) uint32
	Write32(addr uint64, v uint32)
	Write16(addr uint64, v uint16)
}

// ECAM is the memory-mapped configuration space of one PCI segment's
// buses First..Last, bus 0 at Base (an ACPI MCFG entry).
type ECAM struct {
	Base        uint64
	First, Last uint8
	Mem         MMIO
}

func (e *ECAM) addr(f BDF, off uint16, size uint16) (uint64, bool) {
	if f.Bus < e.First || f.Bus > e.Last || f.Dev > 31 || f.Fn > 7 || off%size != 0 || off+size > ECAMSize {
		return 0, false
	}
	return e.Base + uint64(f.Bus)<<20 | uint64(f.Dev)<<15 | uint64(f.Fn)<<12 | uint64(off), true
}

func (e *ECAM) Read32(f BDF, off uint16) uint32 {
	a, ok := e.addr(f, off, 4)
	if !ok {
		return 0xffffffff
	}
	return e.Mem.Read32(a)
}

func (e *ECAM) Write32(f BDF, off uint16, v uint32) {
	if a, ok := e.addr(f, off, 4); ok {
		e.Mem.Write32(a, v)
	}
}

func (e *ECAM) Write16(f BDF, off uint16, v uint16) {
	if a, ok := e.addr(f, off, 2); ok {
		e.Mem.Write16(a, v)
	}
}

func (e *ECAM) Buses() (uint8, uint8) { return e.First, e.Last }
func (e *ECAM) Name() string          { return fmt.Sprintf("ecam at %#x buses %d-%d", e.Base, e.First, e.Last) }

// PortIO is x86 port input and output.
type PortIO interface {
	In32(port uint16) uint32
	Out32(port uint16, v uint32)
	Out16(port uint16, v uint16)
}

// Configuration mechanism #1 (PCI 3.0, 3.2.2.3.2): write the function and
// register to CONFIG_ADDRESS, then access CONFIG_DATA.
const (
	ConfigAddress = 0xcf8
	ConfigData    = 0xcfc
	configEnable  = 1 << 31
)

// Ports is configuration mechanism #1. The address/data pair is one
// shared register set, so each access holds mu across both steps.
type Ports struct {
	IO PortIO
	mu sync.Mutex // CONFIG_ADDRESS is shared by every CPU
}

func portAddr(f BDF, off uint16) (uint32, bool) {
	if f.Dev > 31 || f.Fn > 7 || off >= ConfigSize {
		return 0, false
	}
	return configEnable | uint32(f.Bus)<<16 | uint32(f.Dev)<<11 | uint32(f.Fn)<<8 | uint32(off)&0xfc, true
}

func (p *Ports) Read32(f BDF, off uint16) uint32 {
	a, ok := portAddr(f, off)
	if !ok || off&3 != 0 {
		return 0xffffffff
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.IO.Out32(ConfigAddress, a)
	return p.IO.In32(ConfigData)
}

func (p *Ports) Write32(f BDF, off uint16, v uint32) {
	a, ok := portAddr(f, off)
	if !ok || off&3 != 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.IO.Out32(ConfigAddress, a)
	p.IO.Out32(ConfigData, v)
}

// Write16 uses the data port's byte lanes: CONFIG_DATA + (off & 2).
func (p *Ports) Write16(f BDF, off uint16, v uint16) {
	a, ok := portAddr(f, off)
	if !ok || off&1 != 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.IO.Out32(ConfigAddress, a)
	p.IO.Out16(ConfigData+off&2, v)
}

func (p *Ports) Buses() (uint8, uint8) { return 0, 255 }
func (p *Ports) Name() string          { return "ports 0xcf8/0xcfc" }
