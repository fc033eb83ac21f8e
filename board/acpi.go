// ACPI tables, as much as the board needs: the CPU list from the MADT
// (which vCPUs exist, by local APIC id, so SMP does not depend on the CPUID
// topology a VMM chooses to show); from the FADT, the power-off and reset
// registers of hardware-reduced ACPI machines such as QEMU microvm and the
// PM1 event and control blocks of full ACPI machines such as QEMU q35; and
// from the MCFG, where PCI Express configuration space (ECAM) is mapped.
//
// Layouts from the ACPI 6.5 specification: RSDP 5.2.5.3, table header
// 5.2.6, RSDT 5.2.7, XSDT 5.2.8, FADT 5.2.9, MADT 5.2.12, generic address
// structure 5.2.3.2; MCFG from the PCI Firmware Specification 3.2, 4.1.2.
// Every table is checksummed and bounds-checked; a bad table is refused
// with the reason, never trusted in part.

package board

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	rsdpSignature   = "RSD PTR "
	rsdpV1Len       = 20
	rsdpV2Len       = 36
	sdtHeaderLen    = 36
	maxTableLen     = 1 << 20 // no table we read is near this
	maxRootEntries  = 64
	madtSignature   = "APIC"
	fadtSignature   = "FACP"
	mcfgSignature   = "MCFG"
	madtLocalAPIC   = 0
	madtIOAPIC      = 1
	madtX2APIC      = 9
	madtEnabled     = 1 << 0
	madtOnlineCap   = 1 << 1
	fadtFlagsOff    = 112
	fadtHWReduced   = 1 << 20
	fadtResetRegOff = 116
	fadtResetValOff = 128
	fadtSleepCtlOff = 244
	fadtSleepStsOff = 256
	gasLen          = 12

	// FADT fields of full (not hardware-reduced) ACPI (5.2.9, table 5.9).
	fadtSCIIntOff     = 46
	fadtSMICmdOff     = 48
	fadtACPIEnableOff = 52
	fadtPM1aEvtOff    = 56
	fadtPM1aCntOff    = 64
	fadtPM1EvtLenOff  = 88
	fadtXPM1aEvtOff   = 148
	fadtXPM1aCntOff   = 172
	mcfgEntriesOff    = sdtHeaderLen + 8
	mcfgEntryLen      = 16
	maxMCFGEntries    = 16
	pm1CntSlpTypShift = 10      // PM1 control: SLP_TYPx (4.8.3.2.1, table 4.13)
	pm1CntSlpEn       = 1 << 13 // SLP_EN
	pm1PwrBtn         = 1 << 8  // PM1 status/enable: PWRBTN_STS / PWRBTN_EN (4.8.3.1)
)

// PM1 register bits the board uses.
const (
	PM1CntSlpTypShift = pm1CntSlpTypShift
	PM1CntSlpEn       = pm1CntSlpEn
	PM1PwrBtn         = pm1PwrBtn
)

// GAS is an ACPI generic address structure.
type GAS struct {
	Space   uint8 // 0 system memory, 1 system I/O
	Width   uint8
	Offset  uint8
	Access  uint8
	Address uint64
}

const (
	GASMemory = 0
	GASIO     = 1
)

func parseGAS(b []byte) GAS {
	return GAS{Space: b[0], Width: b[1], Offset: b[2], Access: b[3], Address: binary.LittleEndian.Uint64(b[4:])}
}

// CPU is one processor the MADT lists.
type CPU struct {
	APICID  uint32
	UID     uint32
	Enabled bool // usable now (else only "online capable")
}

// IOAPIC is one I/O APIC the MADT lists.
type IOAPIC struct {
	ID      uint8
	Address uint32
	GSIBase uint32
}

// ACPIInfo is what the board takes from ACPI.
type ACPIInfo struct {
	OEMID      string
	CPUs       []CPU
	IOAPICs    []IOAPIC
	LAPICBase  uint32
	HWReduced  bool
	SleepCtl   GAS // hardware-reduced sleep control register (zero if absent)
	SleepSts   GAS
	ResetReg   GAS
	ResetValue uint8
	HaveFADT   bool

	// Full ACPI (HWReduced false): the PM1a blocks, system I/O or memory
	// (the X_ fields when set, else the 32-bit port fields), the length of
	// the event block (status half, then enable half), the SCI's GSI, and
	// how to switch from legacy to ACPI mode (write ACPIEnable to SMICmd;
	// both 0 when the machine is always in ACPI mode).
	PM1aEvt    GAS
	PM1aCnt    GAS
	PM1EvtLen  uint8
	SCIInt     uint16
	SMICmd     uint32
	ACPIEnable uint8

	// ECAM lists the PCI Express configuration space windows (MCFG).
	ECAM []ECAMRegion
}

// ECAMRegion is one MCFG allocation: configuration space of buses
// StartBus..EndBus of a PCI segment, 4 KiB per function at
// Base + bus<<20 | device<<15 | function<<12 (PCI Express Base 4.0, 7.2.2;
// Base is where bus 0 would be, even when StartBus is not 0).
type ECAMRegion struct {
	Base     uint64
	Segment  uint16
	StartBus uint8
	EndBus   uint8
}

func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// readTable reads an ACPI table at addr after checking its header.
func readTable(mem PhysMem, addr uint64) (sig string, t []byte, err error) {
	h := make([]byte, sdtHeaderLen)
	if err := mem.ReadPhys(addr, h); err != nil {
		return "", nil, fmt.Errorf("acpi: table at %#x: %w", addr, err)
	}
	sig = string(h[0:4])
	n := binary.LittleEndian.Uint32(h[4:])
	if n < sdtHeaderLen || n > maxTableLen {
		return sig, nil, fmt.Errorf("acpi: table %q at %#x: length %d", sig, addr, n)
	}
	t = make([]byte, n)
	if err := mem.ReadPhys(addr, t); err != nil {
		return sig, nil, fmt.Errorf("acpi: table %q at %#x: %w", sig, addr, err)
	}
	if checksum(t) != 0 {
		return sig, nil, fmt.Errorf("acpi: table %q at %#x: bad checksum", sig, addr)
	}
	return sig, t, nil
}

// ReadACPI walks RSDP -> XSDT (or RSDT) -> MADT and FADT.
func ReadACPI(mem PhysMem, rsdp uint64) (ACPIInfo, error) {
	var info ACPIInfo
	if rsdp == 0 {
		return info, errors.New("acpi: no RSDP")
	}
	r := make([]byte, rsdpV2Len)
	if err := mem.ReadPhys(rsdp, r[:rsdpV1Len]); err != nil {
		return info, fmt.Errorf("acpi: rsdp at %#x: %w", rsdp, err)
	}
	if string(r[:8]) != rsdpSignature {
		return info, fmt.Errorf("acpi: rsdp at %#x: bad signature", rsdp)
	}
	if checksum(r[:rsdpV1Len]) != 0 {
		return info, fmt.Errorf("acpi: rsdp at %#x: bad checksum", rsdp)
	}
	info.OEMID = string(r[9:15])
	root, entry := uint64(binary.LittleEndian.Uint32(r[16:])), 4
	if r[15] >= 2 {
		if err := mem.ReadPhys(rsdp+rsdpV1Len, r[rsdpV1Len:]); err != nil {
			return info, fmt.Errorf("acpi: rsdp at %#x: %w", rsdp, err)
		}
		if checksum(r) != 0 {
			return info, fmt.Errorf("acpi: rsdp at %#x: bad extended checksum", rsdp)
		}
		if x := binary.LittleEndian.Uint64(r[24:]); x != 0 {
			root, entry = x, 8
		}
	}
	sig, t, err := readTable(mem, root)
	if err != nil {
		return info, err
	}
	if want := map[int]string{4: "RSDT", 8: "XSDT"}[entry]; sig != want {
		return info, fmt.Errorf("acpi: root table at %#x is %q, want %q", root, sig, want)
	}
	ents := t[sdtHeaderLen:]
	if len(ents)/entry > maxRootEntries {
		return info, fmt.Errorf("acpi: root table lists %d tables", len(ents)/entry)
	}
	haveMADT := false
	for i := 0; i+entry <= len(ents); i += entry {
		var a uint64
		if entry == 4 {
			a = uint64(binary.LittleEndian.Uint32(ents[i:]))
		} else {
			a = binary.LittleEndian.Uint64(ents[i:])
		}
		sig, t, err := readTable(mem, a)
		if err != nil {
			return info, err
		}
		switch sig {
		case madtSignature:
			if err := info.parseMADT(t); err != nil {
				return info, err
			}
			haveMADT = true
		case fadtSignature:
			info.parseFADT(t)
		case mcfgSignature:
			if err := info.parseMCFG(t); err != nil {
				return info, err
			}
		}
	}
	if !haveMADT {
		return info, errors.New("acpi: no MADT")
	}
	return info, nil
}

func (info *ACPIInfo) parseMADT(t []byte) error {
	if len(t) < sdtHeaderLen+8 {
		return fmt.Errorf("acpi: MADT too short (%d bytes)", len(t))
	}
	le := binary.LittleEndian
	info.LAPICBase = le.Uint32(t[36:])
	for p := sdtHeaderLen + 8; p < len(t); {
		if len(t)-p < 2 {
			return fmt.Errorf("acpi: MADT: truncated entry at %d", p)
		}
		typ, n := t[p], int(t[p+1])
		if n < 2 || p+n > len(t) {
			return fmt.Errorf("acpi: MADT: entry type %d at %d has length %d", typ, p, n)
		}
		e := t[p : p+n]
		switch typ {
		case madtLocalAPIC:
			if n < 8 {
				return fmt.Errorf("acpi: MADT: local APIC entry of %d bytes", n)
			}
			fl := le.Uint32(e[4:])
			if fl&(madtEnabled|madtOnlineCap) != 0 {
				info.CPUs = append(info.CPUs, CPU{APICID: uint32(e[3]), UID: uint32(e[2]), Enabled: fl&madtEnabled != 0})
			}
		case madtX2APIC:
			if n < 16 {
				return fmt.Errorf("acpi: MADT: x2APIC entry of %d bytes", n)
			}
			fl := le.Uint32(e[8:])
			if fl&(madtEnabled|madtOnlineCap) != 0 {
				info.CPUs = append(info.CPUs, CPU{APICID: le.Uint32(e[4:]), UID: le.Uint32(e[12:]), Enabled: fl&madtEnabled != 0})
			}
		case madtIOAPIC:
			if n < 12 {
				return fmt.Errorf("acpi: MADT: I/O APIC entry of %d bytes", n)
			}
			info.IOAPICs = append(info.IOAPICs, IOAPIC{ID: e[2], Address: le.Uint32(e[4:]), GSIBase: le.Uint32(e[8:])})
		}
		p += n
	}
	if len(info.CPUs) == 0 {
		return errors.New("acpi: MADT lists no CPU")
	}
	return nil
}

func (info *ACPIInfo) parseFADT(t []byte) {
	info.HaveFADT = true
	le := binary.LittleEndian
	if len(t) >= fadtFlagsOff+4 {
		info.HWReduced = le.Uint32(t[fadtFlagsOff:])&fadtHWReduced != 0
	}
	if len(t) >= fadtResetValOff+1 {
		info.ResetReg = parseGAS(t[fadtResetRegOff:])
		info.ResetValue = t[fadtResetValOff]
	}
	if len(t) >= fadtSleepStsOff+gasLen {
		info.SleepCtl = parseGAS(t[fadtSleepCtlOff:])
		info.SleepSts = parseGAS(t[fadtSleepStsOff:])
	}
	if info.HWReduced || len(t) < fadtPM1EvtLenOff+1 {
		return // the PM1 fields are ignored on hardware-reduced machines (5.2.9)
	}
	info.SCIInt = le.Uint16(t[fadtSCIIntOff:])
	info.SMICmd = le.Uint32(t[fadtSMICmdOff:])
	info.ACPIEnable = t[fadtACPIEnableOff]
	info.PM1EvtLen = t[fadtPM1EvtLenOff]
	// The 32-bit port fields; the X_ ones replace them when non-zero.
	if a := le.Uint32(t[fadtPM1aEvtOff:]); a != 0 {
		info.PM1aEvt = GAS{Space: GASIO, Width: 16, Address: uint64(a)}
	}
	if a := le.Uint32(t[fadtPM1aCntOff:]); a != 0 {
		info.PM1aCnt = GAS{Space: GASIO, Width: 16, Address: uint64(a)}
	}
	if len(t) >= fadtXPM1aEvtOff+gasLen {
		if g := parseGAS(t[fadtXPM1aEvtOff:]); g.Address != 0 {
			info.PM1aEvt = g
		}
	}
	if len(t) >= fadtXPM1aCntOff+gasLen {
		if g := parseGAS(t[fadtXPM1aCntOff:]); g.Address != 0 {
			info.PM1aCnt = g
		}
	}
}

// parseMCFG reads the ECAM allocations. An entry whose bus range is
// inverted is refused: its windows would be computed from garbage.
func (info *ACPIInfo) parseMCFG(t []byte) error {
	if len(t) < mcfgEntriesOff {
		return fmt.Errorf("acpi: MCFG too short (%d bytes)", len(t))
	}
	ents := t[mcfgEntriesOff:]
	if len(ents)%mcfgEntryLen != 0 || len(ents)/mcfgEntryLen > maxMCFGEntries {
		return fmt.Errorf("acpi: MCFG: %d bytes of entries", len(ents))
	}
	le := binary.LittleEndian
	for i := 0; i < len(ents); i += mcfgEntryLen {
		e := ents[i:]
		r := ECAMRegion{Base: le.Uint64(e), Segment: le.Uint16(e[8:]), StartBus: e[10], EndBus: e[11]}
		if r.EndBus < r.StartBus || r.Base&(1<<20-1) != 0 {
			return fmt.Errorf("acpi: MCFG: entry %d: base %#x buses %d-%d", i/mcfgEntryLen, r.Base, r.StartBus, r.EndBus)
		}
		info.ECAM = append(info.ECAM, r)
	}
	return nil
}

// Where a legacy BIOS leaves the RSDP (5.2.5.1): in the first KiB of the
// extended BIOS data area, whose real-mode segment is the 16-bit word at
// 0x40e, or in the read-only BIOS area 0xe0000-0xfffff; on a 16-byte
// boundary either way.
const (
	EBDAPointer   = 0x40e
	EBDASearchLen = 1024
	BIOSAreaStart = 0xe0000
	BIOSAreaEnd   = 0x100000
)

// FindRSDP searches the legacy BIOS areas for the RSDP, for loaders that
// leave start_info's rsdp_paddr zero. It returns the address of the first
// candidate whose signature and ACPI 1.0 checksum are right (ReadACPI then
// checks the rest).
func FindRSDP(mem PhysMem) (uint64, error) {
	var seg [2]byte
	if err := mem.ReadPhys(EBDAPointer, seg[:]); err == nil {
		if ebda := uint64(binary.LittleEndian.Uint16(seg[:])) << 4; ebda >= 0x400 && ebda < BIOSAreaStart {
			b := make([]byte, EBDASearchLen)
			if mem.ReadPhys(ebda, b) == nil {
				if off, ok := ScanRSDP(b); ok {
					return ebda + uint64(off), nil
				}
			}
		}
	}
	b := make([]byte, BIOSAreaEnd-BIOSAreaStart)
	if err := mem.ReadPhys(BIOSAreaStart, b); err != nil {
		return 0, fmt.Errorf("acpi: BIOS area: %w", err)
	}
	if off, ok := ScanRSDP(b); ok {
		return BIOSAreaStart + uint64(off), nil
	}
	return 0, errors.New("acpi: no RSDP in the BIOS areas")
}

// ScanRSDP returns the offset of the first 16-byte-aligned RSDP in b whose
// ACPI 1.0 part checksums to zero.
func ScanRSDP(b []byte) (int, bool) {
	for off := 0; off+rsdpV1Len <= len(b); off += 16 {
		if string(b[off:off+8]) == rsdpSignature && checksum(b[off:off+rsdpV1Len]) == 0 {
			return off, true
		}
	}
	return 0, false
}

// EnabledCPUs counts CPUs usable now.
func (info *ACPIInfo) EnabledCPUs() int {
	n := 0
	for _, c := range info.CPUs {
		if c.Enabled {
			n++
		}
	}
	return n
}
