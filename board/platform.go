// Machine differences as data. The same kernel boots on QEMU microvm,
// Firecracker and Cloud Hypervisor; what differs between them (where the
// console is, whether isa-debug-exit or a PIT exists, how to power off) is
// described here, and the board code reads the table rather than growing
// per-VMM code paths we cannot execute on our TCG-only machines.
//
// Sources: QEMU hw/i386/microvm.c and include/hw/i386/microvm.h (7.2),
// hw/acpi/generic_event_device.c; Firecracker docs/api_requests and
// src/vmm/src/arch/x86_64 (layout.rs); Cloud Hypervisor docs/ and
// arch/src/x86_64/layout.rs.

package board

// PowerMethod is one way to turn the machine off, tried in table order.
type PowerMethod int

const (
	PowerDebugExit   PowerMethod = iota // isa-debug-exit port: QEMU exits with (v<<1)|1
	PowerACPISleep                      // hardware-reduced ACPI sleep control register (S5)
	PowerI8042Reset                     // keyboard controller pulse (Firecracker ends the VM on it)
	PowerTripleFault                    // last resort: an empty IDT and a fault
	PowerACPIPM1                        // full ACPI: SLP_TYP(S5) | SLP_EN into the PM1a control block
)

func (p PowerMethod) String() string {
	return [...]string{"isa-debug-exit", "acpi-sleep", "i8042-reset", "triple-fault", "acpi-pm1"}[p]
}

// Platform describes one VMM's machine.
type Platform struct {
	Name string
	// COM1 is the 16550 console's I/O port (0: none).
	COM1 uint16
	// DebugExit is the isa-debug-exit port when the VMM offers it (QEMU
	// with -device isa-debug-exit,iobase=0xf4; we cannot detect the device,
	// so a write is harmless where it is absent: ports read 0xff and ignore
	// writes).
	DebugExit uint16
	// PIT says whether an i8254 is there to calibrate the TSC against.
	PIT bool
	// RTC says whether an MC146818 CMOS clock is at ports 0x70/0x71.
	RTC bool
	// GEDBase is the MMIO base of QEMU's ACPI generic event device, whose
	// event selector register reports the power button (0: none).
	GEDBase uint64
	// PM1PowerButton says the power button is ACPI's fixed-feature button:
	// PWRBTN_STS in the FADT's PM1a event block (QEMU q35 and pc).
	PM1PowerButton bool
	// ACPIS5Type is SLP_TYP for S5 in the sleep control register or the
	// PM1 control block (from the DSDT's \_S5 object; QEMU's GED uses 5,
	// its q35 and pc DSDTs 0).
	ACPIS5Type uint8
	// Power lists power-off methods in the order to try them.
	Power []PowerMethod
}

// QEMU microvm's generic event device registers (hw/acpi/generic_event_device.c).
const (
	GEDEventSelector  = 0x0        // read: pending events, cleared by the read
	GEDEventPowerDown = 1 << 1     // ACPI_GED_PWR_DOWN_EVT
	MicrovmGEDBase    = 0xfea00000 // GED_MMIO_BASE
	SleepCtlS5Shift   = 2          // SLP_TYP field of the sleep control register
	SleepCtlEnable    = 1 << 5     // SLP_EN
)

// Platforms the kernel knows. QEMUMicrovm is the one we test.
var (
	QEMUMicrovm = Platform{
		Name: "qemu-microvm", COM1: 0x3f8, DebugExit: 0xf4, PIT: true, RTC: true,
		GEDBase: MicrovmGEDBase, ACPIS5Type: 5,
		Power: []PowerMethod{PowerDebugExit, PowerACPISleep, PowerTripleFault},
	}
	// QEMU q35 and pc (i440fx) booted through SeaBIOS and QEMU's PVH option
	// ROM: full ACPI with an ICH9 or PIIX4 power management block, the
	// isa-debug-exit device when the command line adds it, a PIT and an
	// RTC, PCI devices (hw/i386/acpi-build.c writes \_S5 as 0).
	QEMUPC = Platform{
		Name: "qemu-pc", COM1: 0x3f8, DebugExit: 0xf4, PIT: true, RTC: true,
		PM1PowerButton: true, ACPIS5Type: 0,
		Power: []PowerMethod{PowerDebugExit, PowerACPIPM1, PowerTripleFault},
	}
	// Firecracker: no ACPI on older releases, no isa-debug-exit; an i8042
	// reset request is how a guest ends the VM. Its PIT is KVM's in-kernel
	// one, but KVM always offers kvmclock, which is tried first.
	Firecracker = Platform{
		Name: "firecracker", COM1: 0x3f8, PIT: true, RTC: false,
		Power: []PowerMethod{PowerI8042Reset, PowerTripleFault},
	}
	// Cloud Hypervisor: hardware-reduced ACPI with a GED for power-off,
	// no legacy PIT; kvmclock for time.
	CloudHypervisor = Platform{
		Name: "cloud-hypervisor", COM1: 0x3f8, PIT: false, RTC: true,
		ACPIS5Type: 5,
		Power:      []PowerMethod{PowerACPISleep, PowerTripleFault},
	}
)

// DetectPlatform picks the table entry from what the machine says about
// itself: the ACPI OEM id (QEMU writes "BOCHS ", Cloud Hypervisor "CLOUDH"),
// whether there is ACPI at all (Firecracker before 1.8 has none) and, for
// QEMU, whether its ACPI is hardware-reduced (microvm) or full with a PM1
// control block (q35, pc).
func DetectPlatform(info *ACPIInfo) Platform {
	switch {
	case !info.HaveFADT:
		return Firecracker
	case info.OEMID == "CLOUDH":
		return CloudHypervisor
	case info.OEMID == "FIRECK":
		return Firecracker
	case !info.HWReduced && info.PM1aCnt.Address != 0:
		return QEMUPC
	}
	return QEMUMicrovm
}
