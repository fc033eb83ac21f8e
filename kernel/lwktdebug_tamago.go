//go:build tamago && lwktdebug

package kernel

import (
	"fmt"
	"runtime"

	"damselfly/board/microvm"
)

// switchCheck asserts, before every LWKT thread switch, that scheduler cpu
// runs on the CPU whose LAPIC id is cpu. Reading the LAPIC id is an MMIO
// read (a VM exit under KVM), hence debug builds only.
func switchCheck(cpu int) {
	if id := microvm.LAPICID(); id != uint32(cpu) {
		m, pin := runtime.PinCurrent()
		panic(fmt.Sprintf("lwkt: scheduler of cpu %d switching threads on LAPIC id %d (M procid %d, pinned to procid %d)", cpu, id, m, pin))
	}
	lwktSwitchChecks.Add(1)
}
