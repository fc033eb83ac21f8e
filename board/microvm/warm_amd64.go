//go:build tamago && amd64

package microvm

import (
	"time"

	"damselfly/board"
)

// WarmBoot is what the entry found of an earlier boot of this machine. A
// reset that is not a power cycle (the shell's reboot, QMP system_reset, a
// triple fault under a VMM that reboots on it) reloads the image but leaves
// RAM as the last boot left it, while the runtime takes all memory past the
// image as zero; so the entry (cpuinit_amd64.s) clears it first. It knows a
// warm boot by a mark it leaves in the board area, where the image loader
// never writes and which fresh memory holds as zero.
type WarmBoot struct {
	Count   uint64        // warm boots since the machine was powered on; 0: this one is cold
	Cleared board.Region  // memory cleared at the entry: image end to top of the DMA window
	Took    time.Duration // clearing time, by the TSC
}

// defined in cpuinit_amd64.s
func warmRecord() (count, tsc0, tsc1, start, end uint64)

// readWarm reads the entry's record; hz is the TSC rate.
func readWarm(hz uint64) WarmBoot {
	count, tsc0, tsc1, start, end := warmRecord()
	if count == 0 {
		return WarmBoot{}
	}
	w := WarmBoot{Count: count, Cleared: board.Region{Start: start, End: end}}
	if end < start {
		w.Cleared = board.Region{}
	}
	if hz != 0 && tsc1 >= tsc0 {
		w.Took = time.Duration((tsc1 - tsc0) * 1e3 / (hz / 1e6))
	}
	return w
}
