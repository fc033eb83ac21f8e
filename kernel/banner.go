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
	XCR0        uint64 // extended processor state enabled by the board (0: XSAVE off)
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
	fmt.Fprintf(&s, "cpu state: %s\n", XCR0String(b.XCR0))
	fmt.Fprintf(&s, "memory: %d MiB usable, heap %d MiB\n", b.MemBytes>>20, b.HeapBytes>>20)
	fmt.Fprintf(&s, "cmdline: %q\n", b.Cmdline)
	for _, d := range b.Devices {
		fmt.Fprintf(&s, "device: %s\n", d)
	}
	return s.String()
}

// xcr0Names are XCR0's state components (Intel SDM vol. 1, 13.1 "XSAVE-Supported
// Features and State-Component Bitmaps"), lowest bit first.
var xcr0Names = []string{"x87", "sse", "avx", "bndregs", "bndcsr", "opmask", "zmm_hi256", "hi16_zmm"}

// XCR0String describes an XCR0 value as the banner shows it: "xcr0 0x7 (x87 sse avx)", or
// "xsave off" for 0.
func XCR0String(xcr0 uint64) string {
	if xcr0 == 0 {
		return "xsave off (x87 and sse only)"
	}
	var names []string
	for i, n := range xcr0Names {
		if xcr0&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if rest := xcr0 &^ (1<<len(xcr0Names) - 1); rest != 0 {
		names = append(names, fmt.Sprintf("%#x", rest))
	}
	return fmt.Sprintf("xcr0 %#x (%s)", xcr0, strings.Join(names, " "))
}

// ReadyLine is the single line printed when boot is complete.
func ReadyLine(online, present int, memBytes uint64, bootNs int64) string {
	return fmt.Sprintf("damselfly: ready cpus=%d/%d mem=%dMiB boot_ms=%d\n", online, present, memBytes>>20, bootNs/1e6)
}
