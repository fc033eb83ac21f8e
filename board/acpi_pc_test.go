package board

import (
	"encoding/binary"
	"strings"
	"testing"
)

// acpiTables lays out an RSDP (revision 2) at 0x100, an XSDT at 0x200 and
// the given tables at 0x1000, 0x2000, ...
func acpiTables(oem string, tables ...[]byte) fakeMem {
	m := make(fakeMem, 0x1000*(len(tables)+1))
	r := m[0x100:]
	copy(r, rsdpSignature)
	copy(r[9:], oem)
	r[15] = 2
	binary.LittleEndian.PutUint32(r[20:], rsdpV2Len)
	binary.LittleEndian.PutUint64(r[24:], 0x200)
	r[8] = -checksum(r[:rsdpV1Len])
	r[32] = -checksum(r[:rsdpV2Len])
	body := make([]byte, 8*len(tables))
	for i, t := range tables {
		binary.LittleEndian.PutUint64(body[8*i:], uint64(0x1000*(i+1)))
		copy(m[0x1000*(i+1):], t)
	}
	copy(m[0x200:], table("XSDT", body))
	return m
}

// q35FADT is a full-ACPI FADT like QEMU q35's: ICH9 PM block at 0x600
// (PM1a event 0x600, control 0x604), SCI on GSI 9, SMI command port 0xb2.
// With x, the X_ fields name a different control block, which must win.
func q35FADT(x bool) []byte {
	b := make([]byte, 244-sdtHeaderLen)
	le := binary.LittleEndian
	le.PutUint16(b[fadtSCIIntOff-sdtHeaderLen:], 9)
	le.PutUint32(b[fadtSMICmdOff-sdtHeaderLen:], 0xb2)
	b[fadtACPIEnableOff-sdtHeaderLen] = 0xf1
	le.PutUint32(b[fadtPM1aEvtOff-sdtHeaderLen:], 0x600)
	le.PutUint32(b[fadtPM1aCntOff-sdtHeaderLen:], 0x604)
	b[fadtPM1EvtLenOff-sdtHeaderLen] = 4
	if x {
		g := b[fadtXPM1aCntOff-sdtHeaderLen:]
		g[0], g[1] = GASIO, 16
		le.PutUint64(g[4:], 0xb004)
	}
	return table("FACP", b)
}

func mcfg(entries ...ECAMRegion) []byte {
	b := make([]byte, 8)
	for _, e := range entries {
		x := make([]byte, mcfgEntryLen)
		binary.LittleEndian.PutUint64(x, e.Base)
		binary.LittleEndian.PutUint16(x[8:], e.Segment)
		x[10], x[11] = e.StartBus, e.EndBus
		b = append(b, x...)
	}
	return table("MCFG", b)
}

func TestReadACPIQ35(t *testing.T) {
	ecam := ECAMRegion{Base: 0xb0000000, StartBus: 0, EndBus: 255}
	m := acpiTables("BOCHS ", table("APIC", madtBody(2, false)), q35FADT(false), mcfg(ecam))
	info, err := ReadACPI(m, 0x100)
	if err != nil {
		t.Fatal(err)
	}
	if info.HWReduced || info.PM1aEvt != (GAS{Space: GASIO, Width: 16, Address: 0x600}) ||
		info.PM1aCnt.Address != 0x604 || info.PM1EvtLen != 4 || info.SCIInt != 9 ||
		info.SMICmd != 0xb2 || info.ACPIEnable != 0xf1 {
		t.Errorf("fadt: %+v", info)
	}
	if len(info.ECAM) != 1 || info.ECAM[0] != ecam {
		t.Errorf("ecam %+v", info.ECAM)
	}
	if p := DetectPlatform(&info); p.Name != "qemu-pc" || !p.PM1PowerButton || p.GEDBase != 0 {
		t.Errorf("platform %+v", p)
	}

	info, err = ReadACPI(acpiTables("BOCHS ", table("APIC", madtBody(1, false)), q35FADT(true)), 0x100)
	if err != nil || info.PM1aCnt.Address != 0xb004 || len(info.ECAM) != 0 {
		t.Errorf("X_PM1a_CNT_BLK: %+v %v", info.PM1aCnt, err)
	}

	// hardware-reduced: the PM1 fields are ignored
	info, err = ReadACPI(acpiTables("BOCHS ", table("APIC", madtBody(1, false)), table("FACP", fadtBody(true))), 0x100)
	if err != nil || info.PM1aCnt.Address != 0 || DetectPlatform(&info).Name != "qemu-microvm" {
		t.Errorf("microvm: %+v %v", info, err)
	}
}

func TestReadACPIBadMCFG(t *testing.T) {
	for _, tt := range []struct {
		name string
		t    []byte
		want string
	}{
		{"inverted buses", mcfg(ECAMRegion{Base: 0xb0000000, StartBus: 5, EndBus: 4}), "buses 5-4"},
		{"unaligned base", mcfg(ECAMRegion{Base: 0xb0000800, EndBus: 1}), "base"},
		{"ragged", table("MCFG", make([]byte, 8+mcfgEntryLen+3)), "bytes of entries"},
		{"short", table("MCFG", make([]byte, 4)), "too short"},
	} {
		_, err := ReadACPI(acpiTables("BOCHS ", table("APIC", madtBody(1, false)), tt.t), 0x100)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// biosMem is 1 MiB of low memory with an RSDP copied to addr (0: none)
// and the EBDA segment pointer set to ebda>>4.
func biosMem(addr, ebda uint64) fakeMem {
	m := make(fakeMem, BIOSAreaEnd)
	binary.LittleEndian.PutUint16(m[EBDAPointer:], uint16(ebda>>4))
	if addr != 0 {
		src := acpiTables("BOCHS ", table("APIC", madtBody(1, false)))
		copy(m[addr:], src[0x100:0x100+rsdpV2Len])
	}
	return m
}

func TestFindRSDP(t *testing.T) {
	for _, tt := range []struct {
		name       string
		addr, ebda uint64
		want       uint64
	}{
		{"bios area", 0xf5a40, 0x9fc00, 0xf5a40},
		{"bios area start", BIOSAreaStart, 0, BIOSAreaStart},
		{"ebda", 0x9fc10, 0x9fc00, 0x9fc10},
		{"misaligned is not found", 0xf5a48, 0x9fc00, 0},
		{"beyond the EBDA's first KiB", 0x9fc00 + EBDASearchLen, 0x9fc00, 0},
	} {
		got, err := FindRSDP(biosMem(tt.addr, tt.ebda))
		if got != tt.want || (err == nil) != (tt.want != 0) {
			t.Errorf("%s: %#x %v, want %#x", tt.name, got, err, tt.want)
		}
	}
	// a signature with a wrong checksum is skipped for a later good one
	m := biosMem(0xf0000, 0)
	copy(m[0xe0010:], rsdpSignature)
	if got, err := FindRSDP(m); got != 0xf0000 || err != nil {
		t.Errorf("bad candidate first: %#x %v", got, err)
	}
	if _, err := FindRSDP(make(fakeMem, 0x1000)); err == nil {
		t.Error("no BIOS area, yet found")
	}
}

func FuzzScanRSDP(f *testing.F) {
	src := acpiTables("BOCHS ", table("APIC", madtBody(1, false)))
	f.Add([]byte(src[0x100:0x200]))
	f.Add([]byte(rsdpSignature))
	f.Fuzz(func(t *testing.T, b []byte) {
		off, ok := ScanRSDP(b)
		if ok && (off%16 != 0 || off+rsdpV1Len > len(b) || string(b[off:off+8]) != rsdpSignature || checksum(b[off:off+rsdpV1Len]) != 0) {
			t.Fatalf("accepted offset %d", off)
		}
	})
}
