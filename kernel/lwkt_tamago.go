//go:build tamago

package kernel

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"damselfly/board/microvm"
	"damselfly/sched"
)

// SchedOptions returns the sched.Options of the guest's LWKT system: each
// CPU's scheduler goroutine is pinned to its own CPU (runtime.PinToProc,
// our runtime port's pinned goroutines: that CPU's M takes it first and no
// other M may run it), and, in a kernel built with -tags lwktdebug, every
// switch checks that the local APIC of the CPU running it is the
// scheduler's own.
//
// An idle CPU polls its IPI queues idlespin= turns (Config.IdleSpin) before
// it halts.
//
// sched CPU k is the CPU whose LAPIC id is k: the board starts CPUs only
// when their ids are 0..n-1 (board/microvm startCPUs).
func SchedOptions() sched.Options {
	return sched.Options{
		Bind: func(cpu int) error {
			// System.Bound reports these; the self-test fails on them.
			// The M the runtime started for this CPU moments ago may
			// not have run its minit, which sets its procid, yet:
			// PinToProc then finds none there, so it is asked again a
			// while (at -smp 4 under TCG, 1 boot in 8 needed it).
			ok := runtime.PinToProc(uint64(cpu))
			for deadline := time.Now().Add(pinWait); !ok && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
				ok = runtime.PinToProc(uint64(cpu))
			}
			if !ok {
				return fmt.Errorf("no CPU with LAPIC id %d runs Go code (M procids %v)", cpu, runtime.PinProcIDs())
			}
			if id := microvm.LAPICID(); id != uint32(cpu) {
				return fmt.Errorf("pinned to LAPIC id %d, running on %d (M procids %v)", cpu, id, runtime.PinProcIDs())
			}
			return nil
		},
		SwitchCheck: switchCheck,
		// Polling before HLT trades CPU for wakeup latency (docs/lwkt.md, "Idle
		// polling in the guest"); off unless the command line asks.
		IdleSpin: Config.IdleSpin,
	}
}

// pinWait bounds how long Bind waits for an M to run on its CPU.
const pinWait = time.Second

// lwktSwitchChecks counts the LAPIC checks switchCheck made (lwktdebug
// builds); written by every CPU's scheduler, read by self-tests.
var lwktSwitchChecks atomic.Uint64

// LWKTSwitchChecks reports how many thread switches had their CPU checked
// (0 without -tags lwktdebug).
func LWKTSwitchChecks() uint64 { return lwktSwitchChecks.Load() }
