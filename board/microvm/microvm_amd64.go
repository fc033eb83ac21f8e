//go:build tamago && amd64

package microvm

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/goos"
	"sort"
	"time"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"
	"github.com/usbarmory/tamago/amd64/lapic"
	"github.com/usbarmory/tamago/dma"
	"github.com/usbarmory/tamago/soc/intel/ioapic"

	"damselfly/board"
)

var errNoTimeSource = errors.New("no TSC frequency source (no CPUID leaf, kvmclock or PIT)")

// Machine is what the board found. It is filled once by Init and init on
// the boot CPU before any package outside the board runs, and read-only
// afterwards.
type Machine struct {
	Platform   board.Platform
	Hypervisor board.Hypervisor
	Boot       board.BootInfo
	ACPI       board.ACPIInfo
	Usable     []board.Region // usable RAM
	Heap       board.Region   // the runtime's own block (image, break, boot stack)
	HeapExtra  []board.Region // RAM given to the heap besides (above the 4 GiB hole)
	DMA        board.Region   // the dma package's default region
	TSCHz      uint64
	TSCSource  string
	EntryTSC   uint64 // TSC at the PVH entry
	XCR0       uint64 // extended state the entry enabled (0: no XSAVE), see xsave_amd64.s
	WarmBoots  uint64 // warm boots before this one since power-on (warm_amd64.go)
	CPUs       []board.CPU
	Online     int // CPUs running Go code
	Target     int // CPUs meant to run: the MADT's, capped by smp=
	IOAPICs    []*ioapic.IOAPIC
	Errors     []error  // problems found during Init; the kernel refuses to boot on any
	Notes      []string // things worth a log line
}

// M is the machine (see Machine for ownership).
var M Machine

// AMD64 is the boot CPU as the tamago amd64 package sees it.
var AMD64 = &amd64.CPU{TimerMultiplier: 1}

// SMP semaphore and task area of the tamago amd64 package (its smp.go:
// taskAddress, three 64-bit words), cleared before APs start.
const tamagoTaskArea = 0x6020

// Init runs early in runtime.main, before package initialisation: console,
// time, memory and ACPI.
//
//go:linkname Init runtime/goos.Hwinit1
func Init() {
	M.EntryTSC = entryTSC()
	Mark("runtime up (hwinit)")
	UART0.Init()

	// The parts of amd64.CPU.Init we need, without its TSC detection
	// (which prints a warning and guesses under TCG) and time hooks.
	AMD64.LAPIC = &lapic.LAPIC{Base: amd64.LAPIC_BASE}
	goos.ProcID = func() uint64 { return 0 }
	goos.Idle = func(until int64) { idleHook(until) }
	goos.Exit = func(code int32) { PowerOff(code == 0) }
	for i := uint64(0); i < 3; i++ {
		*(*uint64)(unsafe.Pointer(uintptr(tamagoTaskArea + 8*i))) = 0
	}

	M.Hypervisor = board.ProbeHypervisor(cpuid)

	bi, err := board.ReadBootInfo(physMem{}, uint64(runtime.BootInfo()))
	if err != nil {
		M.Errors = append(M.Errors, err)
	}
	M.Boot = bi
	rsdp := bi.StartInfo.RsdpPaddr
	if rsdp == 0 && err == nil {
		// A loader may leave rsdp_paddr zero on a machine with a BIOS:
		// look where ACPI 6.5, 5.2.5.1 says a legacy BIOS puts it.
		if a, ferr := board.FindRSDP(physMem{}); ferr == nil {
			rsdp = a
			M.Notes = append(M.Notes, fmt.Sprintf("acpi: RSDP found at %#x by scanning the BIOS areas", a))
		}
	}
	if rsdp != 0 {
		if M.ACPI, err = board.ReadACPI(physMem{}, rsdp); err != nil {
			M.Errors = append(M.Errors, err)
		}
	}
	M.Platform = board.DetectPlatform(&M.ACPI)
	M.WarmBoots = warmCount()
	M.initMemory()
	M.clearWarm()
	Mark("boot info, acpi, memory map")

	hz, src, err := tscFrequency(M.Hypervisor, M.Platform)
	if err != nil {
		M.Errors = append(M.Errors, fmt.Errorf("time: %w", err))
		return
	}
	Mark("tsc rate (" + src + ")")

	// Exceptions and the local APIC now rather than in init: the first AP
	// is started here (see apBoot), and must find the IDT's address set
	// and the boot CPU's APIC enabled to send it INIT and STARTUP.
	AMD64.EnableExceptions()
	installFaultGates()
	AMD64.LAPIC.Enable()
	M.CPUs = append([]board.CPU(nil), M.ACPI.CPUs...)
	sort.Slice(M.CPUs, func(i, j int) bool { return M.CPUs[i].APICID < M.CPUs[j].APICID })
	if M.Target = targetCPUs(); M.Target > 1 {
		aps.plan(M.Target)
		aps.kick()
	}
	Mark("first application processor kicked")
	now := rdtsc()
	clock.SetFrequency(now, hz)
	M.TSCHz, M.TSCSource = hz, src
	M.addExtraRAM()
	M.XCR0, _ = readXCR0()
	// Kernel time at the entry, by the measured rate (the clock itself
	// only converts TSC values from its last rate change on).
	entryNs = clock.Nanotime(now) - int64((now-M.EntryTSC)*1e3/(hz/1e6))
	// Start kernel time at the time of day: the runtime reads wall time
	// from the same clock (time.Now, file times, HTTP Date headers). Done
	// here, before package initialisation starts any timer; entryNs moves
	// with it so Since stays boot-relative.
	if !M.Platform.RTC {
		M.Notes = append(M.Notes, "time: the machine has no RTC: the clock starts at the epoch")
	} else if wall, err := RTC.Now(); err == nil {
		entryNs += clock.StepForward(rdtsc(), wall.UnixNano())
	} else {
		M.Notes = append(M.Notes, fmt.Sprintf("time: no time of day from the RTC (%v): the clock starts at the epoch", err))
	}
	Mark("rtc")
}

// entryNs is the kernel time of the PVH entry; set once by Init.
var entryNs int64

func (m *Machine) initMemory() {
	m.Usable = board.UsableRAM(m.Boot.Memmap)
	heap, err := board.HeapRegion(m.Usable, uint64(ramStart), uint64(ramSize))
	if err != nil {
		m.Errors = append(m.Errors, err)
		return
	}
	// cpuinit sized the heap from the same map: they must agree.
	m.Heap = board.Region{Start: uint64(ramStart), End: uint64(ramStart + ramSize)}
	if heap.End < m.Heap.End+dmaSize {
		m.Errors = append(m.Errors, fmt.Errorf("memmap: RAM block %v cannot hold heap %v and %d MiB of DMA", heap, m.Heap, dmaSize>>20))
		return
	}
	m.DMA = board.Region{Start: m.Heap.End, End: m.Heap.End + dmaSize}
}

// init runs first among package inits (the kernel imports the board):
// exceptions, I/O APICs, the other CPUs, DMA.
func init() {
	if len(M.Errors) > 0 {
		return // the kernel reports them and powers off
	}
	Mark("board package init")
	initIdle()

	for _, a := range M.ACPI.IOAPICs {
		io := &ioapic.IOAPIC{Index: int(a.ID), Base: a.Address, GSIBase: int(a.GSIBase)}
		io.Init()
		M.IOAPICs = append(M.IOAPICs, io)
	}

	if M.DMA.Size() != 0 {
		if err := dma.Init(uint(M.DMA.Start), int(M.DMA.Size())); err != nil {
			M.Errors = append(M.Errors, fmt.Errorf("dma: %w", err))
		}
	}

	Mark("idle, ioapics, dma")
	startCPUs()
	Mark("application processors")
	startTimekeeper()
}

// targetCPUs is how many CPUs to run: the MADT's enabled ones, capped by
// smp=, or the boot CPU alone when the LAPIC ids are not 0..n-1 (the
// tamago package's task protocol numbers CPUs by LAPIC id).
func targetCPUs() int {
	want := 0
	for _, c := range M.CPUs {
		if c.Enabled {
			want++
		}
	}
	if want == 0 {
		want = 1
	}
	// smp=<n> on the command line caps the CPUs used (the kernel reports
	// a malformed command line itself, later).
	if cfg, err := board.ParseCmdline(M.Boot.Cmdline); err == nil && cfg.SMP > 0 && cfg.SMP < want {
		want = cfg.SMP
	}
	for i, c := range M.CPUs {
		if c.APICID != uint32(i) {
			M.Notes = append(M.Notes, fmt.Sprintf("smp: LAPIC ids are not 0..n-1 (%d at %d): starting the boot CPU only", c.APICID, i))
			return 1
		}
	}
	return want
}

// startCPUs brings up the application processors Init planned (M.Target
// CPUs in all) and checks how many came online. The MADT's list, not the
// tamago package's InitSMP, which counts CPUs from CPUID topology (a VMM
// may fill it differently from the vCPUs it created) and waits 10 ms per
// CPU.
func startCPUs() {
	want := M.Target
	if want <= 1 {
		AMD64.InitSMP(1)
	} else {
		aps.finish()
	}
	M.Online = runtime.GOMAXPROCS(0)
	if M.Online != want {
		M.Notes = append(M.Notes, fmt.Sprintf("smp: %d of %d CPUs came online (CPUID reports %d)", M.Online, want, amd64.NumCPU()))
	}
}

// Since returns the time since the PVH entry.
func Since() time.Duration {
	return time.Duration(nanotime() - entryNs)
}

// LAPICID is the local APIC id of the calling CPU.
func LAPICID() uint32 {
	return AMD64.LAPIC.ID()
}

// Profile holds the boot's phase stamps (see board.Profile): marked by the
// board, the kernel and the application on any CPU, printed by the kernel
// with bootprofile on the command line.
var Profile board.Profile

// Mark stamps the end of a boot phase with the TSC.
func Mark(phase string) { Profile.Mark(phase, rdtsc()) }

// RTC is the CMOS wall clock.
var RTC = &board.RTC{IO: ports{}}

func uintptrOf(p *uint32) uintptr { return uintptr(unsafe.Pointer(p)) }
