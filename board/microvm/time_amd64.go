// Kernel time: the TSC through a board.Clock.

//go:build tamago && amd64

package microvm

import (
	"time"
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
	// 5 ms of PIT time: the read brackets (a few us under TCG) bound the
	// error to about 0.1%, and the timekeeper (startTimekeeper) steers
	// the rate against the PIT every 10 ms from then on, slewing that
	// error out within SlewHorizon. Every millisecond here is boot time:
	// the window was 60 ms, then 20 ms (docs/boot.md, "Boot timeline").
	cal, err := board.Calibrate(rdtsc, pit, board.PITHz*5/1000, 12)
	if err != nil {
		return 0, "", err
	}
	return cal.Hz, "pit calibration", nil
}

// Timekeeper is the discipline of the TSC clock against the PIT (see
// board.Discipline); its goroutine, started by startTimekeeper, is the only
// reader of the PIT after calibration and the only writer of the clock.
var Timekeeper board.Discipline

// timekeeperPeriod keeps samples well inside the PIT's 55 ms wrap.
const timekeeperPeriod = 10 * time.Millisecond

func startTimekeeper() {
	if !M.Platform.PIT || M.TSCSource != "pit calibration" {
		return // a stated TSC rate (CPUID, kvmclock) is trusted as is
	}
	pit := &board.PIT{IO: ports{}}
	Timekeeper = board.Discipline{Clock: &clock, Ref: pit}
	go func() {
		for {
			// bracket the PIT read; keep the tighter of two tries
			var best, bestTSC, width uint64 = 0, 0, ^uint64(0)
			for i := 0; i < 2; i++ {
				t0 := rdtsc()
				r := pit.Read()
				t1 := rdtsc()
				if t1-t0 < width {
					best, bestTSC, width = r, t0+(t1-t0)/2, t1-t0
				}
			}
			Timekeeper.Sample(bestTSC, best)
			time.Sleep(timekeeperPeriod)
		}
	}()
}

// ClockHz is the TSC rate the clock uses now (the timekeeper steers it).
func ClockHz() uint64 { return clock.Hz() }
