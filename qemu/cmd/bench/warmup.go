package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"damselfly/qemu"
)

// warmUpBoot boots g once, untimed, with "selftest=wake poweroff" (about a second of guest
// work: 5000 cross-CPU LWKT messages, then power off), before a run's first measured boot.
//
// On the machines this harness runs on (themselves VMs), a QEMU started a few seconds
// after the previous one ended runs its guest markedly slower for its first tenths of a
// second than one started right after another: Damselfly's own entry-to-ready time
// (boot_ms) is 115-170 ms after a gap of 3 s or more, 64-75 ms back to back, whether the
// gap was idle or kept both CPUs busy, and touching 768 MiB of host memory in the gap
// (small pages or huge) does not help; a QEMU that ran a guest just before does
// (docs/bench.md, 2026-11-24 13:00 UTC). Within a run every boot follows the previous
// guest's exit at once; without a warm-up the run's first boot, always Damselfly's, was
// alone in paying the gap (391-581 ms to the first HTTP 200 against 289-383 for the
// others). A plain boot with "poweroff" (QEMU ran 0.37 s) was not enough: the first
// measured boots then took 421-435 ms against 345-368; after this one, 333-355 against
// 320-323 in two short runs and 364-444 against 317-424 in three full ones, with the
// guest's own boot_ms no longer an outlier: seen from the host the first boot is still
// often the slowest, by less.
//
// It returns how long the warm-up QEMU ran.
func warmUpBoot(ctx context.Context, g guest) (time.Duration, error) {
	cfg := g.cfg
	cfg.Append = "selftest=wake poweroff"
	res, err := qemu.Run(ctx, cfg, qemu.Options{Timeout: time.Minute})
	if err != nil {
		return res.Duration, fmt.Errorf("warm-up boot of %s (untimed, cmdline %q): %w", g.name, cfg.Append, err)
	}
	return res.Duration, nil
}

// warmUp runs warmUpBoot for the first guest a run boots and reports it on stderr. A
// failed warm-up is reported and the run goes on: its boots then show whether the guest
// is at fault.
func warmUp(ctx context.Context, g guest) {
	d, err := warmUpBoot(ctx, g)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "bench: warm-up boot of %s (untimed): QEMU ran %d ms\n", g.name, d.Milliseconds())
}
