//go:build tamago

package main

import (
	"fmt"
	"runtime"

	"damselfly/kernel"
	"damselfly/sched"
)

func init() {
	kernel.RegisterSelfTest("lwkt", lwktSelfTest)
}

// lwktSelfTest runs a cross-CPU message storm on an LWKT system with one
// scheduler per online CPU and prints its counters as
//
//	lwkt: ok cpus=<n> msgs=<n> ipis=<sent>/<avoided> switches=<n>
//
// then `lwkt: bound=<n>/<n> switch_checks=<n> idlespin=<n>`. Each scheduler goroutine
// is pinned to its CPU (kernel.SchedOptions); the doorbell is the channel
// one, whose wake of a halted CPU is the runtime's LAPIC IPI (docs/lwkt.md,
// "In the guest").
func lwktSelfTest(t *kernel.T) error {
	// LWKT threads are coroutines, and Go requires a coroutine to be
	// resumed with the OS-thread locking of the goroutine that created it.
	// Self-tests run on the boot goroutine, which the board keeps locked
	// to the boot CPU; the system is built from a fresh goroutine instead.
	errc := make(chan error, 1)
	go func() { errc <- lwktStorm() }()
	return <-errc
}

func lwktStorm() error {
	n := runtime.GOMAXPROCS(0)
	sys := sched.NewSystem(n, kernel.SchedOptions())
	sys.Start()
	defer sys.Stop()
	res, err := sched.Storm(sys, sched.StormConfig{ClientsPerCPU: 16, MsgsPerClient: 256})
	if err != nil {
		return fmt.Errorf("storm: %w", err)
	}
	if res.CPUs != n || res.Msgs == 0 {
		return fmt.Errorf("storm ran on %d of %d CPUs with %d messages", res.CPUs, n, res.Msgs)
	}
	if n > 1 && res.IPIsSent+res.IPIsAvoided == 0 {
		return fmt.Errorf("storm on %d CPUs sent no IPI", n)
	}
	bound, err := sys.Bound()
	if err != nil || bound != n {
		return fmt.Errorf("%d of %d schedulers bound to their CPU: %v", bound, n, err)
	}
	fmt.Println(res.String())
	fmt.Printf("lwkt: bound=%d/%d switch_checks=%d idlespin=%d\n", bound, n, kernel.LWKTSwitchChecks(), sys.IdleSpin())
	return nil
}
