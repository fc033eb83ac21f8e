// Starting the application processors from the MADT's list.
//
// The tamago amd64 package's InitSMP starts CPUs 1..NumCPU()-1, where
// NumCPU comes from CPUID topology leaves (0x80000008 on AMD, 0x0b on
// Intel). Those describe one package; a VMM that presents vCPUs as separate
// sockets (QEMU's default topology for some machine types) makes NumCPU
// report 1 however many vCPUs exist. When that happens we start the CPUs
// the MADT lists ourselves, with the package's own AP trampoline and task
// protocol (its smp.go/smp.s), so its Task/Wake/GOMAXPROCS keep working.

//go:build tamago && amd64

package microvm

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/usbarmory/tamago/amd64/lapic"
)

// The tamago amd64 package's AP trampoline: copies its real-mode ·apinit to
// init and stores ·apstart's address at start.
//
//go:linkname apinitReloc github.com/usbarmory/tamago/amd64.apinit_reloc
func apinitReloc(init uintptr, start uintptr)

// defined in io_amd64.s
func readCR3() uint64

// Fixed addresses of the tamago amd64 package's AP protocol (amd64/smp.go:
// apinitAddress, apstartAddress, gdtAddress, gdtrAddress, cr3Address).
const (
	apInitAddr  = 0x4000
	apStartAddr = 0x5000
	apGDTAddr   = 0x6000
	apGDTRAddr  = 0x6018
	apCR3Addr   = 0x6028
)

func poke64(addr uintptr, v uint64) { *(*uint64)(unsafe.Pointer(addr)) = v }

// tamagoAPStart is the tamago amd64 package's ·apstart, which apstart_xsave
// jumps to; set by apBoot.plan before any AP starts, read only by APs.
var tamagoAPStart uint64

// apStartXSAVEAddr returns apstart_xsave's address (xsave_amd64.s).
func apStartXSAVEAddr() uint64

// readXCR0 returns this CPU's XCR0, ok false if CR4.OSXSAVE is clear
// (xsave_amd64.s).
func readXCR0() (xcr0 uint64, ok bool)

// XCR0 returns the XCR0 of the CPU it runs on (0 if XSAVE is off there):
// every CPU must have the boot CPU's (Machine.XCR0), or the runtime's AVX
// code faults on the ones without.
func XCR0() uint64 {
	x, _ := readXCR0()
	return x
}
func poke32(addr uintptr, v uint32) { *(*uint32)(unsafe.Pointer(addr)) = v }
func poke16(addr uintptr, v uint16) { *(*uint16)(unsafe.Pointer(addr)) = v }

// apBoot starts the application processors the MADT lists, one at a time
// (they share the trampoline), in two halves: Init plans and kicks the
// first AP (sends INIT and STARTUP) as soon as the TSC rate and the local
// APIC allow, so that the AP's trip through the trampoline (its vCPU's
// first code: slow under TCG) overlaps the boot CPU's own start-up, and
// finish, in the board's package init, waits for it and starts the rest.
// The AP then halts in the tamago package's ·apstart until a task comes:
// it loads the package's static GDT and IDT pointers, whose tables are
// filled before any task is sent. Owned by the boot CPU.
type apBoot struct {
	ids     []uint32 // LAPIC ids to start, in order
	kicked  int      // how many got INIT and STARTUP
	trampok bool     // the trampoline is in place
}

var aps apBoot

// plan lists the CPUs to start (n in all, the boot CPU included) and puts
// the tamago amd64 package's trampoline in place.
func (b *apBoot) plan(n int) {
	boot := LAPICID()
	for _, c := range M.CPUs {
		if len(b.ids)+1 == n {
			break
		}
		if c.Enabled && c.APICID != boot {
			b.ids = append(b.ids, c.APICID)
		}
	}
	apinitReloc(apInitAddr, apStartAddr)
	// The trampoline calls the address at apStartAddr: make it ours, which
	// enables the AVX state as the boot CPU's entry did, then goes on to the
	// package's ·apstart (xsave_amd64.s).
	tamagoAPStart = *(*uint64)(unsafe.Pointer(uintptr(apStartAddr)))
	poke64(apStartAddr, apStartXSAVEAddr())
	// real-mode GDT for the trampoline: null, 64-bit code, data
	poke64(apGDTAddr+0x00, 0)
	poke64(apGDTAddr+0x08, 0x00209a00000fffff)
	poke64(apGDTAddr+0x10, 0x00009200000fffff)
	poke16(apGDTRAddr+0, 3*8-1)
	poke32(apGDTRAddr+2, apGDTAddr)
	poke32(apCR3Addr, uint32(readCR3()))
	b.trampok = true
}

// kick sends INIT and STARTUP (Intel SDM vol. 3A, 9.4.4.1 "Typical BSP
// Initialization Sequence"; AMD APM vol. 2, 15.27.8) to the next AP.
func (b *apBoot) kick() {
	if !b.trampok || b.kicked == len(b.ids) {
		return
	}
	id := b.ids[b.kicked]
	b.kicked++
	vector := apInitAddr >> 12 // STARTUP vector: the page of the trampoline
	// The 10 ms wait between INIT and STARTUP is for the discrete APICs of
	// old processors (SDM 9.4.4.1); virtual CPUs take STARTUP at once, and
	// Linux skips the wait on modern processors too. Under a hypervisor we
	// wait 100 us.
	initWait := 10 * time.Millisecond
	if M.Hypervisor.Present {
		initWait = 100 * time.Microsecond
	}
	lapicIPI(uint32(id), uint32(vector|1<<lapic.ICR_INIT|lapic.ICR_DLV_INIT))
	spinFor(initWait)
	lapicIPI(uint32(id), uint32(vector|1<<lapic.ICR_INIT|lapic.ICR_DLV_SIPI))
}

// arrived waits up to a second for the APs kicked so far to count
// themselves in the task area's first word (the tamago package's ·apstart
// does). An AP arrives in well under a millisecond of its own time, but
// under TCG on a loaded host its vCPU thread may wait for a core: 100 ms
// was too short for -smp 4 beside other guests on 2 cores (2 of 4 CPUs
// came up in CI). A CPU that arrives returns at once, so the bound costs
// nothing; it only decides when a missing one is given up.
func (b *apBoot) arrived() bool {
	ready := (*uint32)(unsafe.Pointer(uintptr(tamagoTaskArea)))
	for t0 := rdtsc(); atomic.LoadUint32(ready) < uint32(b.kicked); {
		if rdtsc()-t0 > M.TSCHz {
			return false
		}
	}
	return true
}

// finish starts every planned AP not yet started, each once the previous
// one is through the trampoline, then, once all have counted themselves
// in, hands them to the runtime (handOver, task_amd64.go).
func (b *apBoot) finish() {
	for b.arrived() && b.kicked < len(b.ids) {
		b.kick()
	}
	if b.kicked == 0 || !b.arrived() {
		return // the boot CPU alone (startCPUs reports the shortfall)
	}
	handOver(b.kicked + 1)
}

// spinFor busy-waits d on the TSC (the scheduler is not running other
// CPUs yet, and a timer would cost more than these waits).
func spinFor(d time.Duration) {
	for t0, n := rdtsc(), uint64(d)*M.TSCHz/1e9; rdtsc()-t0 < n; {
	}
}
