// PVH boot information: the hvm_start_info structure a PVH loader (QEMU's
// pvh option ROM on microvm, Firecracker, Cloud Hypervisor) leaves in
// memory, pointed to by EBX at the kernel's 32-bit entry point.
//
// Layout from Xen's public header xen/include/public/arch-x86/hvm/start_info.h
// (all fields little endian). Version 0 ends at rsdp_paddr; version 1 adds
// the memory map, which is the only memory description we accept: a kernel
// that guessed its RAM size would triple-fault on a smaller VM.

package board

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Offsets of struct hvm_start_info.
const (
	startInfoMagicOff    = 0x00
	startInfoVersionOff  = 0x04
	startInfoFlagsOff    = 0x08
	startInfoNrModsOff   = 0x0c
	startInfoModlistOff  = 0x10
	startInfoCmdlineOff  = 0x18
	startInfoRsdpOff     = 0x20
	startInfoMemmapOff   = 0x28
	startInfoMemmapNrOff = 0x30

	startInfoSizeV0 = 0x28
	startInfoSizeV1 = 0x38

	// StartInfoMagic is XEN_HVM_START_MAGIC_VALUE.
	StartInfoMagic = 0x336ec578

	// memmapEntrySize is sizeof(struct hvm_memmap_table_entry):
	// addr u64, size u64, type u32, reserved u32.
	memmapEntrySize = 24

	// Limits on what we read from untrusted pointers.
	MaxMemmapEntries = 256
	MaxCmdlineLen    = 4096
)

// StartInfo is the fixed part of hvm_start_info.
type StartInfo struct {
	Version       uint32
	Flags         uint32
	NrModules     uint32
	ModlistPaddr  uint64
	CmdlinePaddr  uint64
	RsdpPaddr     uint64
	MemmapPaddr   uint64 // version >= 1
	MemmapEntries uint32 // version >= 1
}

// ParseStartInfo decodes the structure from b, which must hold at least the
// version 0 part (and the version 1 part when Version >= 1).
func ParseStartInfo(b []byte) (StartInfo, error) {
	var si StartInfo
	if len(b) < startInfoSizeV0 {
		return si, fmt.Errorf("pvh: start_info: %d bytes, want at least %d", len(b), startInfoSizeV0)
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[startInfoMagicOff:]); m != StartInfoMagic {
		return si, fmt.Errorf("pvh: start_info: magic %#x, want %#x", m, StartInfoMagic)
	}
	si.Version = le.Uint32(b[startInfoVersionOff:])
	si.Flags = le.Uint32(b[startInfoFlagsOff:])
	si.NrModules = le.Uint32(b[startInfoNrModsOff:])
	si.ModlistPaddr = le.Uint64(b[startInfoModlistOff:])
	si.CmdlinePaddr = le.Uint64(b[startInfoCmdlineOff:])
	si.RsdpPaddr = le.Uint64(b[startInfoRsdpOff:])
	if si.Version >= 1 {
		if len(b) < startInfoSizeV1 {
			return si, fmt.Errorf("pvh: start_info version %d: %d bytes, want %d", si.Version, len(b), startInfoSizeV1)
		}
		si.MemmapPaddr = le.Uint64(b[startInfoMemmapOff:])
		si.MemmapEntries = le.Uint32(b[startInfoMemmapNrOff:])
	}
	return si, nil
}

// MemType is the type of a memory map entry; the values are E820's (ACPI 6.5
// section 15.1, "INT 15H E820H - Query System Address Map"), which Xen's
// XEN_HVM_MEMMAP_TYPE_* repeat.
type MemType uint32

const (
	MemRAM      MemType = 1 // AddressRangeMemory
	MemReserved MemType = 2 // AddressRangeReserved
	MemACPI     MemType = 3 // AddressRangeACPI (reclaimable)
	MemNVS      MemType = 4 // AddressRangeNVS
	MemUnusable MemType = 5 // AddressRangeUnusable
	MemDisabled MemType = 6 // AddressRangeDisabled
	MemPMEM     MemType = 7 // AddressRangePersistentMemory
)

func (t MemType) String() string {
	switch t {
	case MemRAM:
		return "ram"
	case MemReserved:
		return "reserved"
	case MemACPI:
		return "acpi"
	case MemNVS:
		return "nvs"
	case MemUnusable:
		return "unusable"
	case MemDisabled:
		return "disabled"
	case MemPMEM:
		return "pmem"
	}
	return fmt.Sprintf("type%d", uint32(t))
}

// MemEntry is one memory map entry as given.
type MemEntry struct {
	Addr uint64
	Size uint64
	Type MemType
}

// ParseMemmap decodes n hvm_memmap_table_entry records from b.
func ParseMemmap(b []byte, n uint32) ([]MemEntry, error) {
	if n == 0 {
		return nil, errors.New("pvh: memory map is empty")
	}
	if n > MaxMemmapEntries {
		return nil, fmt.Errorf("pvh: memory map has %d entries, limit %d", n, MaxMemmapEntries)
	}
	if uint64(len(b)) < uint64(n)*memmapEntrySize {
		return nil, fmt.Errorf("pvh: memory map: %d bytes for %d entries", len(b), n)
	}
	le := binary.LittleEndian
	m := make([]MemEntry, n)
	for i := range m {
		e := b[i*memmapEntrySize:]
		m[i] = MemEntry{Addr: le.Uint64(e[0:]), Size: le.Uint64(e[8:]), Type: MemType(le.Uint32(e[16:]))}
	}
	return m, nil
}

// PhysMem reads guest-physical memory. On the target it is a direct view of
// memory; in tests it is a byte slice.
type PhysMem interface {
	ReadPhys(addr uint64, b []byte) error
}

// BootInfo is everything the board takes from the PVH boot information.
type BootInfo struct {
	StartInfo StartInfo
	Cmdline   string
	Memmap    []MemEntry
}

// ReadBootInfo follows the start_info pointer and the pointers in it.
func ReadBootInfo(mem PhysMem, addr uint64) (BootInfo, error) {
	var bi BootInfo
	if addr == 0 {
		return bi, errors.New("pvh: no start_info pointer")
	}
	buf := make([]byte, startInfoSizeV1)
	if err := mem.ReadPhys(addr, buf[:startInfoSizeV0]); err != nil {
		return bi, fmt.Errorf("pvh: start_info at %#x: %w", addr, err)
	}
	if binary.LittleEndian.Uint32(buf[startInfoVersionOff:]) >= 1 {
		if err := mem.ReadPhys(addr+startInfoSizeV0, buf[startInfoSizeV0:]); err != nil {
			return bi, fmt.Errorf("pvh: start_info at %#x: %w", addr, err)
		}
	} else {
		buf = buf[:startInfoSizeV0]
	}
	si, err := ParseStartInfo(buf)
	if err != nil {
		return bi, err
	}
	bi.StartInfo = si
	if si.Version < 1 {
		return bi, fmt.Errorf("pvh: start_info version %d has no memory map", si.Version)
	}
	if si.MemmapEntries > MaxMemmapEntries {
		return bi, fmt.Errorf("pvh: memory map has %d entries, limit %d", si.MemmapEntries, MaxMemmapEntries)
	}
	mb := make([]byte, int(si.MemmapEntries)*memmapEntrySize)
	if err := mem.ReadPhys(si.MemmapPaddr, mb); err != nil {
		return bi, fmt.Errorf("pvh: memory map at %#x: %w", si.MemmapPaddr, err)
	}
	if bi.Memmap, err = ParseMemmap(mb, si.MemmapEntries); err != nil {
		return bi, err
	}
	if si.CmdlinePaddr != 0 {
		if bi.Cmdline, err = readCString(mem, si.CmdlinePaddr, MaxCmdlineLen); err != nil {
			return bi, fmt.Errorf("pvh: cmdline at %#x: %w", si.CmdlinePaddr, err)
		}
	}
	return bi, nil
}

// readCString reads a NUL-terminated string of at most max bytes, a small
// chunk at a time so that a string near the end of memory can be read.
func readCString(mem PhysMem, addr uint64, max int) (string, error) {
	var out []byte
	var chunk [64]byte
	for len(out) < max {
		if err := mem.ReadPhys(addr+uint64(len(out)), chunk[:]); err != nil {
			// the chunk may cross the end of memory: retry bytewise
			for len(out) < max {
				if err := mem.ReadPhys(addr+uint64(len(out)), chunk[:1]); err != nil {
					return "", err
				}
				if chunk[0] == 0 {
					return string(out), nil
				}
				out = append(out, chunk[0])
			}
			break
		}
		for _, c := range chunk {
			if c == 0 {
				return string(out), nil
			}
			out = append(out, c)
			if len(out) == max {
				break
			}
		}
	}
	return "", fmt.Errorf("no NUL within %d bytes", max)
}
