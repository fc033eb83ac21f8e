// TSC frequency: from what the CPU or hypervisor states, else measured.
//
// Order of trust (first that answers wins):
//  1. CPUID leaf 0x15 (Intel SDM Vol. 2A, CPUID "Time Stamp Counter and
//     Nominal Core Crystal Clock Information Leaf"): TSC = crystal * EBX/EAX.
//     When ECX (the crystal) is 0, leaf 0x16 EAX (base MHz) stands in.
//  2. Hypervisor leaf 0x40000010 (the VMware "timing information" leaf that
//     KVM and QEMU also fill when the TSC frequency is fixed): EAX = TSC kHz.
//  3. kvmclock (Linux Documentation/virt/kvm/x86/msr.rst, struct
//     pvclock_vcpu_time_info): the tsc_to_system_mul and tsc_shift the host
//     publishes imply the frequency.
//  4. Calibration against a reference counter the machine has (the i8254
//     PIT on QEMU microvm and Firecracker; the ACPI PM timer on machines
//     with full ACPI). Under TCG only this path applies: QEMU offers
//     neither leaf 0x15 nor kvmclock, and its TSC is the host's, running at
//     the host's rate, so a measurement against the PIT (which QEMU derives
//     from the host's monotonic clock) tracks host time.

package board

import (
	"errors"
	"fmt"
	"math/bits"
)

// CPUID leaves and fields used here.
const (
	cpuidMaxLeaf   = 0x00
	cpuidFeatures  = 0x01
	featHypervisor = 1 << 31 // CPUID.01H:ECX[31]
	cpuidTSCCrys   = 0x15
	cpuidFreq      = 0x16
	cpuidHVBase    = 0x40000000
	cpuidHVTiming  = 0x40000010
	cpuidKVMFeat   = 0x40000001
	kvmFeatClock2  = 1 << 3 // KVM_FEATURE_CLOCKSOURCE2
	kvmFeatStable  = 1 << 24
)

// CPUID executes the instruction for leaf and subleaf.
type CPUID func(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// Hypervisor is what CPUID says about the hypervisor, if any.
type Hypervisor struct {
	Present   bool
	Signature string // "KVMKVMKVM", "TCGTCGTCGTCG", "Microsoft Hv", ...
	MaxLeaf   uint32
	KVMClock  bool // KVM_FEATURE_CLOCKSOURCE2
}

// ProbeHypervisor reads the hypervisor leaves.
func ProbeHypervisor(cpuid CPUID) Hypervisor {
	var h Hypervisor
	if _, _, c, _ := cpuid(cpuidFeatures, 0); c&featHypervisor == 0 {
		return h
	}
	h.Present = true
	a, b, c, d := cpuid(cpuidHVBase, 0)
	sig := make([]byte, 0, 12)
	for _, r := range [3]uint32{b, c, d} {
		sig = append(sig, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	for len(sig) > 0 && sig[len(sig)-1] == 0 {
		sig = sig[:len(sig)-1]
	}
	h.Signature = string(sig)
	h.MaxLeaf = a
	if h.Signature == "KVMKVMKVM" && a >= cpuidKVMFeat {
		fa, _, _, _ := cpuid(cpuidKVMFeat, 0)
		h.KVMClock = fa&kvmFeatClock2 != 0
	}
	return h
}

// FreqFromCPUID returns the TSC frequency the CPU or hypervisor states, and
// which leaf said it, or 0.
func FreqFromCPUID(cpuid CPUID) (hz uint64, source string) {
	max, _, _, _ := cpuid(cpuidMaxLeaf, 0)
	if max >= cpuidTSCCrys {
		den, num, crystal, _ := cpuid(cpuidTSCCrys, 0)
		if den != 0 && num != 0 {
			if crystal != 0 {
				return uint64(crystal) * uint64(num) / uint64(den), "cpuid 0x15"
			}
			if max >= cpuidFreq {
				// Leaf 0x16 gives the base frequency, which on the CPUs
				// that omit the crystal equals the TSC frequency.
				if mhz, _, _, _ := cpuid(cpuidFreq, 0); mhz != 0 {
					return uint64(mhz&0xffff) * 1e6, "cpuid 0x16"
				}
			}
		}
	}
	if h := ProbeHypervisor(cpuid); h.Present && h.MaxLeaf >= cpuidHVTiming {
		if khz, _, _, _ := cpuid(cpuidHVTiming, 0); khz != 0 {
			return uint64(khz) * 1000, "cpuid 0x40000010"
		}
	}
	return 0, ""
}

// FreqFromPvclock derives the TSC frequency from kvmclock's scale: the host
// converts ticks to ns as ((tsc << shift) * mul) >> 32 (or >> -shift for a
// negative shift), so Hz = 1e9 * 2^32 / mul / 2^shift.
func FreqFromPvclock(mul uint32, shift int8) uint64 {
	if mul == 0 || shift > 31 || shift < -31 {
		return 0
	}
	hz := (uint64(1e9) << 32) / 4 / uint64(mul) // divide by 4 first: 1e9<<32 overflows
	hz *= 4
	if shift < 0 {
		return hz << uint(-shift)
	}
	return hz >> uint(shift)
}

// RefCounter is a free-running counter of known frequency that counts up and
// wraps at 2^Bits.
type RefCounter interface {
	Read() uint64
	Hz() uint64
	Bits() uint
	Name() string
}

// Calibration result and how it was obtained.
type Calibration struct {
	Hz       uint64
	RefTicks uint64 // reference ticks in the window
	TSCTicks uint64
	Bracket  uint64 // worst TSC uncertainty at either end of the window
	Tries    int
}

// ErrCalibration is returned when no trustworthy measurement was made.
var ErrCalibration = errors.New("tsc: calibration failed")

// sample pairs a reference reading with the TSC, bracketing the reference
// read between two TSC reads and keeping the tightest of n tries: a vCPU
// preempted between the reads widens the bracket and loses.
func sample(tsc func() uint64, ref RefCounter, n int) (r, t, width uint64) {
	width = ^uint64(0)
	for i := 0; i < n; i++ {
		t0 := tsc()
		rv := ref.Read()
		t1 := tsc()
		if t1 < t0 {
			continue
		}
		if w := t1 - t0; w < width {
			width, r, t = w, rv, t0+w/2
		}
	}
	return
}

// Calibrate measures the TSC against ref over at least window reference
// ticks, reading ref continuously so no wrap is missed. A measurement in
// which two reads were far enough apart that a wrap could have been lost
// (the vCPU was descheduled) is thrown away and retried, up to tries times;
// after every second failure the window is halved (down to a sixteenth), as
// on a loaded host a short window is more likely to run undisturbed. The
// result's accuracy is about Bracket/TSCTicks; the board's timekeeper
// refines the rate afterwards.
func Calibrate(tsc func() uint64, ref RefCounter, window uint64, tries int) (Calibration, error) {
	mask := uint64(1)<<ref.Bits() - 1
	if ref.Bits() >= 64 {
		mask = ^uint64(0)
	}
	if ref.Hz() == 0 || window == 0 || window > mask<<20 {
		return Calibration{}, fmt.Errorf("%w: bad window %d for %s", ErrCalibration, window, ref.Name())
	}
	w := window
	for try := 1; try <= tries; try++ {
		if try > 1 && try%2 == 1 && w > window/16 {
			w /= 2
		}
		c, ok := calibrateOnce(tsc, ref, w, mask)
		if ok {
			c.Tries = try
			return c, nil
		}
	}
	return Calibration{}, fmt.Errorf("%w: no clean window of %s in %d tries", ErrCalibration, ref.Name(), tries)
}

func calibrateOnce(tsc func() uint64, ref RefCounter, window, mask uint64) (Calibration, bool) {
	r0, t0, w0 := sample(tsc, ref, 5)
	if w0 == ^uint64(0) {
		return Calibration{}, false
	}
	var elapsed, maxGap uint64
	last, lastT := r0, t0
	for elapsed < window {
		v := ref.Read()
		now := tsc()
		elapsed += (v - last) & mask
		if now-lastT > maxGap {
			maxGap = now - lastT
		}
		last, lastT = v, now
	}
	r1, t1, w1 := sample(tsc, ref, 5)
	if w1 == ^uint64(0) || t1 <= t0 {
		return Calibration{}, false
	}
	elapsed += (r1 - last) & mask
	if t1-lastT > maxGap {
		maxGap = t1 - lastT
	}
	hz := (t1 - t0) / elapsed * ref.Hz()
	hz += (t1 - t0) % elapsed * ref.Hz() / elapsed
	if hz == 0 {
		return Calibration{}, false
	}
	// The longest gap between reads, in seconds at the measured rate,
	// must stay well under the wrap period (mask+1)/Hz, whose loss would
	// inflate hz: with one wrap lost the measured rate is at most about
	// twice the true one, so a gap under a third of the period proves
	// nothing was lost.
	if lostWrapPossible(maxGap, hz, ref.Hz(), mask) {
		return Calibration{}, false
	}
	return Calibration{Hz: hz, RefTicks: elapsed, TSCTicks: t1 - t0, Bracket: max(w0, w1)}, true
}

// lostWrapPossible reports whether gap TSC ticks (at tscHz) reach a third of
// the reference's wrap period (mask+1 ticks at refHz):
// gap/tscHz >= (mask+1)/refHz/3, compared in 128 bits.
func lostWrapPossible(gap, tscHz, refHz, mask uint64) bool {
	lh, ll := bits.Mul64(gap*3, refHz)
	rh, rl := bits.Mul64(mask+1, tscHz)
	if mask == ^uint64(0) {
		return false // a 64-bit counter does not wrap in practice
	}
	return lh > rh || (lh == rh && ll >= rl)
}
