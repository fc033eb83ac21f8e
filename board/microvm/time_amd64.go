// Kernel time: the TSC through a board.Clock.

//go:build tamago && amd64

package microvm

import (
	_ "unsafe"

	"damselfly/board"
)

// clock converts the TSC. Its zero value serves the runtime's nanotime
// calls before Init has measured the rate; initTime (run once, in Init,
// on the boot CPU) installs the real one.
var clock board.Clock

//go:linkname nanotime runtime/goos.Nanotime
func nanotime() int64 {
	return clock.Nanotime(rdtsc())
}

// kvmclock MSR and the layout of struct pvclock_vcpu_time_info (Linux
// Documentation/virt/kvm/x86/msr.rst): tsc_to_system_mul at 24, tsc_shift
// at 28.
const (
	msrKVMSystemTimeNew = 0x4b564d01
	pvclockMulOff       = 24
	pvclockShiftOff     = 28
)

// pvclockArea is where the hypervisor writes vCPU 0's time information
// (32 bytes, 4-byte aligned); owned by initTime, which disables it again.
var pvclockArea [8]uint32

// tscFrequency finds the TSC rate: stated, else measured.
func tscFrequency(hv board.Hypervisor, pf board.Platform) (hz uint64, source string, err error) {
	if hz, source = board.FreqFromCPUID(cpuid); hz != 0 {
		return hz, source, nil
	}
	if hv.KVMClock {
		addr := uint64(uintptrOf(&pvclockArea[0]))
		wrmsr(msrKVMSystemTimeNew, addr|1)
		mul := pvclockArea[pvclockMulOff/4]
		shift := int8(pvclockArea[pvclockShiftOff/4])
		wrmsr(msrKVMSystemTimeNew, 0)
		if hz = board.FreqFromPvclock(mul, shift); hz != 0 {
			return hz, "kvmclock", nil
		}
	}
	if !pf.PIT {
		return 0, "", errNoTimeSource
	}
	pit := &board.PIT{IO: ports{}}
	pit.Start()
	// 60 ms of PIT time, enough to bound the error by the read brackets
	// (a few us under TCG) to well under 0.1%.
	cal, err := board.Calibrate(rdtsc, pit, board.PITHz*6/100, 5)
	if err != nil {
		return 0, "", err
	}
	return cal.Hz, "pit calibration", nil
}
