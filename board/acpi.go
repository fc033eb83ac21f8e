// ACPI tables, as much as the board needs: the CPU list from the MADT
// (which vCPUs exist, by local APIC id, so SMP does not depend on the CPUID
// topology a VMM chooses to show) and, from the FADT, the power-off and
// reset registers of hardware-reduced ACPI machines such as QEMU microvm.
//
// Layouts from the ACPI 6.5 specification: RSDP 5.2.5.3, table header
// 5.2.6, RSDT 5.2.7, XSDT 5.2.8, FADT 5.2.9, MADT 5.2.12, generic address
// structure 5.2.3.2. Every table is checksummed and bounds-checked; a bad
// table is refused with the reason, never trusted in part.

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
