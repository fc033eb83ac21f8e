// What a user sees of a boot: the banner, and exactly one ready line that
// tools (the boot tests, vmrun, people) wait for.

package kernel

import (
	"fmt"
	"strings"
)

// Version is the kernel version shown in the banner; the build may override
// it with -ldflags "-X damselfly/kernel.Version=...".
var Version = "0.1-dev"

// BootInfo is what the banner and ready line report.
type BootInfo struct {
	Machine     string // "qemu-microvm (TCG)"
	CPUsOnline  int    // CPUs running Go code
	CPUsPresent int    // CPUs the machine has
	MemBytes    uint64 // usable RAM
	HeapBytes   uint64 // of which the runtime heap
	TSCHz       uint64
	TSCSource   string // "cpuid 0x15", "pit calibration", ...
	Cmdline     string
	Devices     []string // one entry per device found, "uart0 com1 0x3f8"
}

// Banner is the multi-line boot banner.
func Banner(b BootInfo) string {
	var s strings.Builder
	fmt.Fprintf(&s, "Damselfly %s: Go unikernel with DragonFly BSD's LWKT design\n", Version)
	fmt.Fprintf(&s, "machine: %s\n", b.Machine)
	fmt.Fprintf(&s, "cpus: %d/%d online, tsc %d.%03d MHz (%s)\n", b.CPUsOnline, b.CPUsPresent,
		b.TSCHz/1e6, b.TSCHz/1e3%1e3, b.TSCSource)
	fmt.Fprintf(&s, "memory: %d MiB usable, heap %d MiB\n", b.MemBytes>>20, b.HeapBytes>>20)
	fmt.Fprintf(&s, "cmdline: %q\n", b.Cmdline)
	for _, d := range b.Devices {
		fmt.Fprintf(&s, "device: %s\n", d)
	}
	return s.String()
}

// ReadyLine is the single line printed when boot is complete.
func ReadyLine(online, present int, memBytes uint64, bootNs int64) string {
	return fmt.Sprintf("damselfly: ready cpus=%d/%d mem=%dMiB boot_ms=%d\n", online, present, memBytes>>20, bootNs/1e6)
}
