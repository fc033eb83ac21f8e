// Idle: a CPU with nothing to run halts until its deadline (local APIC
// timer, one-shot) or a wakeup IPI, instead of spinning. On a host running
// many vCPUs on few cores this matters: spinning vCPUs steal the time the
// busy ones need.

//go:build tamago && amd64

package microvm

import (
	"math"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"
)

// Local APIC timer registers and fields (Intel SDM vol. 3A, 11.5.4 "APIC
// Timer"): LVT timer entry, initial and current count, divide configuration.
const (
	lapicBase      = 0xfee00000
	lapicLVTTimer  = 0x320
	lapicTimerInit = 0x380
	lapicTimerCur  = 0x390
	lapicTimerDiv  = 0x3e0
	lapicDivBy1    = 0xb
	lvtMasked      = 1 << 16
	wakeVector     = 0xf0  // our gate: EOI and return (io_amd64.s wakeEntry)
	minIdleNs      = 20000 // shorter waits spin: halting costs more
)

// lapicHz is the local APIC timer rate at divide-by-1, measured once on the
// boot CPU by initIdle before other CPUs start; read-only afterwards.
var lapicHz uint64

// defined in io_amd64.s
func idleHalt(lvt uint32, count uint32)
func wakeEntryAddr() uintptr

func lapicReg(off uintptr) *uint32 { return (*uint32)(unsafe.Pointer(uintptr(lapicBase) + off)) }

// initIdle measures the APIC timer against the TSC over 500 us (the two
// register reads bracketing it take a microsecond or two under TCG, so the
// rate is within a few tenths of a percent, and an idle deadline that much
// late costs nothing: the caller rechecks its clock; it was 2 ms of boot
// time) and installs the wake gate and the idle hook. Without a TSC rate it leaves the
// spinning idle in place.
func initIdle() {
	if M.TSCHz == 0 {
		return
	}
	setGate(wakeVector, uint64(wakeEntryAddr()))
	setGate(amd64.IRQ_WAKEUP, uint64(wakeEntryAddr())) // goos.Wake's vector
	*lapicReg(lapicTimerDiv) = lapicDivBy1
	*lapicReg(lapicLVTTimer) = lvtMasked | wakeVector
	*lapicReg(lapicTimerInit) = math.MaxUint32
	t0 := rdtsc()
	for rdtsc()-t0 < M.TSCHz/2000 {
	}
	left := *lapicReg(lapicTimerCur)
	t1 := rdtsc()
	*lapicReg(lapicTimerInit) = 0
	ticks := uint64(math.MaxUint32 - left)
	if ticks == 0 {
		return
	}
	lapicHz = ticks * M.TSCHz / (t1 - t0)
	idleHook = idle
}

// wakePending[id] is set by a wake interrupt taken on the CPU whose LAPIC
// id is id and cleared by that CPU's idleHalt (io_amd64.s): the one piece of
// state shared between the wake gate and the halt, so that a wakeup taken
// just before a halt is not lost. Written only from assembly.
var wakePending [256]uint8

// idleHook is what goos.Idle calls (set by initIdle); the default spins as
// the tamago package's governor does.
var idleHook = func(until int64) {
	if until == math.MaxInt64 {
		AMD64.WaitInterrupt()
	}
}

func idle(until int64) {
	if until == math.MaxInt64 {
		idleHalt(lvtMasked|wakeVector, 0)
		return
	}
	d := until - nanotime()
	if d < minIdleNs {
		return
	}
	count := uint64(d) * lapicHz / 1e9
	if count > math.MaxUint32 {
		count = math.MaxUint32
	}
	if count == 0 {
		return
	}
	*lapicReg(lapicTimerDiv) = lapicDivBy1 // per CPU; cheap to repeat
	idleHalt(wakeVector, uint32(count))
}
