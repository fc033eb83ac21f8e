//go:build tamago

package main

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"damselfly/kernel"
	"damselfly/sched"
)

func init() {
	kernel.RegisterSelfTest("wake", wakeSelfTest)
}

// wakeSelfTest times synchronous messages from an LWKT thread on CPU 0 to
// one on CPU 1: each trip wakes the server's CPU and then the client's,
// both halted in between (their schedulers have nothing else to run). It
// prints
//
//	wake: ok round_trips=<n> median_us=<n> p99_us=<n> max_us=<n> over_5ms=<n>
//
// A wakeup lost between a CPU's last look for work and its HLT leaves that
// CPU asleep until its idle timer, 10 ms later (board/microvm idleHalt):
// over_5ms counts trips that took that long. The test fails only if a
// trip never completes; the figures are for reading (docs/lwkt.md).
func wakeSelfTest(t *kernel.T) error {
	if runtime.GOMAXPROCS(0) < 2 {
		fmt.Println("wake: skipped, one CPU")
		return nil
	}
	errc := make(chan error, 1)
	go func() { errc <- wakeRoundTrips(5000) }() // see lwktSelfTest: a fresh goroutine
	return <-errc
}

type wakeMsg struct {
	sched.Msg
	stop bool
}

func wakeRoundTrips(n int) error {
	sys := sched.NewSystem(2, kernel.SchedOptions())
	sys.Start()
	defer sys.Stop()
	ready := make(chan *sched.Port, 1)
	sys.GoExternal(1, sched.ThreadOpts{Name: "wake-server"}, func(td *sched.Thread) {
		p := sched.NewServicePort(td, func(td *sched.Thread, m sched.Message) error {
			if m.(*wakeMsg).stop {
				td.Exit()
			}
			return nil
		})
		ready <- p
		td.Serve(p)
	})
	p := <-ready
	trips := make([]time.Duration, 0, n)
	var err error
	sys.Run(0, sched.ThreadOpts{Name: "wake-client"}, func(td *sched.Thread) {
		m := &wakeMsg{}
		m.Init(m, nil, 0)
		for range n {
			t0 := time.Now()
			if err = td.DoMsg(p, &m.Msg); err != nil {
				return
			}
			trips = append(trips, time.Since(t0))
		}
		stop := &wakeMsg{stop: true}
		stop.Init(stop, td.Port(), 0)
		td.SendMsg(p, stop)
	})
	if err != nil {
		return fmt.Errorf("round trip %d: %w", len(trips), err)
	}
	slices.Sort(trips)
	below, _ := slices.BinarySearch(trips, 5*time.Millisecond)
	over := len(trips) - below
	fmt.Printf("wake: ok round_trips=%d median_us=%d p99_us=%d max_us=%d over_5ms=%d\n", len(trips),
		trips[len(trips)/2].Microseconds(), trips[len(trips)*99/100].Microseconds(), trips[len(trips)-1].Microseconds(), over)
	return nil
}
