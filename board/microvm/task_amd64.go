//go:build tamago && amd64

package microvm

import (
	"runtime"
	"runtime/goos"
	"sync/atomic"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"
	"github.com/usbarmory/tamago/amd64/lapic"
)

// The runtime starts an M on an application processor through goos.Task
// (newosproc), once per AP, whenever it first needs one: the AP waits in
// the tamago package's ·apstart, halted, for an NMI, then takes the stack,
// g and function from the task area (tamagoTaskArea: sp, g, pc), clears
// them and runs the function. The tamago package's CPU.Task writes the
// area through an allocation, with no lock and without waiting for the AP:
// two Ms started at once from two CPUs could overwrite each other's task
// and signal the same AP, leaving one M that never runs (its procid still
// 0) and a CPU without M: seen as `selftest=lwkt` failing to pin a
// scheduler to CPU 3 at -smp 4 in 2 of 6 boots ("M procids [0 2 1 0]").
// task replaces it.

// taskLock serialises task: one task in the area at a time.
var taskLock atomic.Uint32

// taskNext is the LAPIC id of the AP the next task goes to (the APs are
// 1..n-1, see targetCPUs), under taskLock.
var taskNext uint32 = 1

// icrNMI is ICR low for an NMI (Intel SDM vol. 3A, 11.6.1: delivery mode
// 100b, level assert).
const icrNMI = 1<<lapic.ICR_INIT | 0b100<<8

// task is goos.Task: it puts the M's start in the task area, signals the
// next AP and waits until the AP has taken it (the AP clears the words),
// all under taskLock, spinning: it runs in newosproc, inside the runtime's
// scheduler, where nothing may block.
func task(sp, _, gp, fn unsafe.Pointer) {
	if sp == nil || gp == nil {
		return
	}
	for !taskLock.CompareAndSwap(0, 1) {
	}
	area := (*[3]uint64)(unsafe.Pointer(uintptr(tamagoTaskArea)))
	atomic.StoreUint64(&area[0], uint64(uintptr(sp)))
	atomic.StoreUint64(&area[1], uint64(uintptr(gp)))
	atomic.StoreUint64(&area[2], uint64(uintptr(fn))) // the AP looks at pc first
	lapicIPI(taskNext, icrNMI)
	taskNext++
	// an AP gets a second (M.TSCHz ticks) to take it
	for t0 := rdtsc(); atomic.LoadUint64(&area[2]) != 0 && rdtsc()-t0 < M.TSCHz; {
	}
	taskLock.Store(0)
}

// handOver does what the tamago package's CPU.GOMAXPROCS does once the
// APs counted themselves in (apBoot.arrived), with this package's task and
// wake: it installs the runtime hooks and lets the runtime use n CPUs.
func handOver(n int) {
	goos.ProcID = AMD64.ID
	goos.Task = task
	goos.Wake = wake
	runtime.GOMAXPROCS(n)
}

// ICR low for a fixed interrupt (Intel SDM vol. 3A, 11.6.1): delivery
// mode 000b, level assert.
const icrFixed = 1<<lapic.ICR_INIT | lapic.ICR_DLV_IRQ

// wake is goos.Wake: the tamago package's, sending through lapicIPI.
func wake(procid uint64) { lapicIPI(uint32(procid), icrFixed|amd64.IRQ_WAKEUP) }

// defined in ipi_amd64.s
func lapicIPI(apicid uint32, icrl uint32)
