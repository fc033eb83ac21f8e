package board

import (
	"encoding/binary"
	"strings"
	"testing"
)

// table builds an ACPI table with a valid header and checksum.
func table(sig string, body []byte) []byte {
	t := make([]byte, sdtHeaderLen+len(body))
	copy(t, sig)
	binary.LittleEndian.PutUint32(t[4:], uint32(len(t)))
	t[8] = 1
	copy(t[10:], "BOCHS ")
	copy(t[sdtHeaderLen:], body)
	t[9] = -checksum(t)
	return t
}

func madtBody(cpus int, x2 bool) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, 0xfee00000)
	for i := 0; i < cpus; i++ {
		if x2 {
			e := make([]byte, 16)
			e[0], e[1] = madtX2APIC, 16
			binary.LittleEndian.PutUint32(e[4:], uint32(i))
			binary.LittleEndian.PutUint32(e[8:], madtEnabled)
			binary.LittleEndian.PutUint32(e[12:], uint32(i))
			b = append(b, e...)
		} else {
			b = append(b, madtLocalAPIC, 8, byte(i), byte(i), madtEnabled, 0, 0, 0)
		}
	}
	// a disabled, not online-capable CPU is not listed
	b = append(b, madtLocalAPIC, 8, 0xfe, 0xfe, 0, 0, 0, 0)
	// an I/O APIC
	io := []byte{madtIOAPIC, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0}
	return append(b, io...)
}

func fadtBody(hwReduced bool) []byte {
	b := make([]byte, 276-sdtHeaderLen)
	if hwReduced {
		binary.LittleEndian.PutUint32(b[fadtFlagsOff-sdtHeaderLen:], fadtHWReduced)
	}
	// sleep control register: 8-bit system memory at 0xfea00200
	s := b[fadtSleepCtlOff-sdtHeaderLen:]
	s[0], s[1] = GASMemory, 8
	binary.LittleEndian.PutUint64(s[4:], 0xfea00200)
	r := b[fadtResetRegOff-sdtHeaderLen:]
	r[0], r[1] = GASMemory, 8
	binary.LittleEndian.PutUint64(r[4:], 0xfea00202)
	b[fadtResetValOff-sdtHeaderLen] = 0x42
	return b
}

// acpiMem lays out RSDP at 0x100, root table at 0x200, MADT at 0x1000 and
// FADT at 0x2000.
func acpiMem(xsdt bool, madt, fadt []byte) fakeMem {
	m := make(fakeMem, 0x3000)
	r := m[0x100:]
	copy(r, rsdpSignature)
	copy(r[9:], "BOCHS ")
	var root []byte
	if xsdt {
		r[15] = 2
		binary.LittleEndian.PutUint32(r[20:], rsdpV2Len)
		binary.LittleEndian.PutUint64(r[24:], 0x200)
		body := make([]byte, 16)
		binary.LittleEndian.PutUint64(body, 0x1000)
		binary.LittleEndian.PutUint64(body[8:], 0x2000)
		root = table("XSDT", body)
	} else {
		binary.LittleEndian.PutUint32(r[16:], 0x200)
		body := make([]byte, 8)
		binary.LittleEndian.PutUint32(body, 0x1000)
		binary.LittleEndian.PutUint32(body[4:], 0x2000)
		root = table("RSDT", body)
	}
	r[8] = -checksum(r[:rsdpV1Len])
	if xsdt {
		r[32] = -checksum(r[:rsdpV2Len])
	}
	copy(m[0x200:], root)
	copy(m[0x1000:], madt)
	copy(m[0x2000:], fadt)
	return m
}

func TestReadACPI(t *testing.T) {
	for _, xsdt := range []bool{false, true} {
		m := acpiMem(xsdt, table("APIC", madtBody(4, xsdt)), table("FACP", fadtBody(true)))
		info, err := ReadACPI(m, 0x100)
		if err != nil {
			t.Fatalf("xsdt=%v: %v", xsdt, err)
		}
		if len(info.CPUs) != 4 || info.EnabledCPUs() != 4 || info.CPUs[3].APICID != 3 {
			t.Errorf("xsdt=%v: cpus %+v", xsdt, info.CPUs)
		}
		if len(info.IOAPICs) != 1 || info.IOAPICs[0].Address != 0xfec00000 || info.LAPICBase != 0xfee00000 {
			t.Errorf("ioapics %+v lapic %#x", info.IOAPICs, info.LAPICBase)
		}
		if !info.HWReduced || info.SleepCtl.Address != 0xfea00200 || info.ResetValue != 0x42 || info.OEMID != "BOCHS " {
			t.Errorf("fadt %+v", info)
		}
	}
}

func TestReadACPIErrors(t *testing.T) {
	good := func() fakeMem { return acpiMem(true, table("APIC", madtBody(2, false)), table("FACP", fadtBody(true))) }
	tests := []struct {
		name string
		mem  fakeMem
		want string
	}{
		{"bad rsdp sig", func() fakeMem { m := good(); m[0x100] = 'X'; return m }(), "bad signature"},
		{"bad rsdp sum", func() fakeMem { m := good(); m[0x10a]++; return m }(), "bad checksum"},
		{"bad madt sum", func() fakeMem { m := good(); m[0x1000+40]++; return m }(), "bad checksum"},
		{"no madt", acpiMem(true, table("HPET", nil), table("FACP", fadtBody(false))), "no MADT"},
		{"no cpu", acpiMem(true, table("APIC", make([]byte, 8)), nil), "no CPU"},
		{"zero-length entry", acpiMem(true, table("APIC", append(make([]byte, 8), 0, 0)), nil), "length 0"},
		{"short lapic entry", acpiMem(true, table("APIC", append(make([]byte, 8), 0, 4, 0, 0)), nil), "4 bytes"},
		{"huge table", func() fakeMem { m := good(); binary.LittleEndian.PutUint32(m[0x1004:], 1<<30); return m }(), "length"},
	}
	for _, tt := range tests {
		_, err := ReadACPI(tt.mem, 0x100)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := ReadACPI(good(), 0); err == nil {
		t.Error("nil rsdp accepted")
	}
}

func FuzzReadACPI(f *testing.F) {
	f.Add([]byte(acpiMem(true, table("APIC", madtBody(2, false)), table("FACP", fadtBody(true)))))
	f.Add([]byte(acpiMem(false, table("APIC", madtBody(8, true)), table("FACP", fadtBody(false)))))
	f.Add([]byte(acpiTables("BOCHS ", table("APIC", madtBody(2, false)), q35FADT(true), mcfg(ECAMRegion{Base: 0xb0000000, EndBus: 255}))))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ReadACPI(fakeMem(b), 0x100)
		if err == nil && len(info.CPUs) == 0 {
			t.Fatal("success without CPUs")
		}
	})
}

func TestDetectPlatform(t *testing.T) {
	for _, tt := range []struct {
		acpi bool
		oem  string
		want string
	}{
		{true, "BOCHS ", "qemu-microvm"}, {false, "", "firecracker"}, {true, "CLOUDH", "cloud-hypervisor"}, {true, "FIRECK", "firecracker"},
	} {
		if p := DetectPlatform(&ACPIInfo{HaveFADT: tt.acpi, OEMID: tt.oem, HWReduced: true}); p.Name != tt.want {
			t.Errorf("%v %q: %s, want %s", tt.acpi, tt.oem, p.Name, tt.want)
		}
	}
}
