package sched

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"damselfly/ipi"
)

// Stats is a snapshot of the system's counters, for the shell's `threads` and `stats`
// commands and /status.json. Reading it takes no locks and sends no IPIs.
type Stats struct {
	CPUs    []CPUStats
	IPI     ipi.CPUStats // totals over all CPUs
	Live    int64        // threads not yet exited
	Created uint64       // threads ever created
}

// CPUStats is one CPU's part of Stats.
type CPUStats struct {
	CPU         int
	Threads     int64  // threads belonging to the CPU
	RunQueue    int64  // runnable threads (the running one included)
	Switches    uint64 // switches to a thread
	Preempts    uint64 // preemptions by interrupt-level threads
	TokenMisses uint64 // runnable threads skipped because a token was busy
	IdleWaits   uint64 // times the CPU found nothing to run
	TimersRun   uint64
	IPI         ipi.CPUStats
}

// Stats returns a snapshot of the counters. Any goroutine may call it.
func (s *System) Stats() Stats {
	is := s.ipi.Stats()
	st := Stats{CPUs: make([]CPUStats, s.ncpu), IPI: ipi.Total(is), Live: s.live.Load(), Created: s.created.Load()}
	for i, c := range s.cpus {
		k := &c.stats
		st.CPUs[i] = CPUStats{
			CPU: i, Threads: k.threads.Load(), RunQueue: k.runq.Load(), Switches: k.switches.Load(),
			Preempts: k.preempts.Load(), TokenMisses: k.tokenMisses.Load(), IdleWaits: k.idleWaits.Load(),
			TimersRun: k.timersRun.Load(), IPI: is[i],
		}
	}
	return st
}

// String formats the snapshot as a table, one line per CPU.
func (st Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %7s %6s %10s %8s %8s %10s %10s %10s %8s\n",
		"cpu", "threads", "runq", "switches", "preempt", "tokmiss", "ipi-sent", "ipi-recv", "ipi-avoid", "fifofull")
	for _, c := range st.CPUs {
		fmt.Fprintf(&b, "%-4d %7d %6d %10d %8d %8d %10d %10d %10d %8d\n", c.CPU, c.Threads, c.RunQueue,
			c.Switches, c.Preempts, c.TokenMisses, c.IPI.Sent, c.IPI.Received, c.IPI.Avoided, c.IPI.FIFOFull)
	}
	fmt.Fprintf(&b, "live=%d created=%d ipis=%d/%d doorbells=%d passive=%d cpusyncs=%d\n", st.Live, st.Created,
		st.IPI.Sent, st.IPI.Avoided, st.IPI.Doorbells, st.IPI.Passive, st.IPI.CPUSyncs)
	return b.String()
}

// ThreadInfo describes one thread for the shell's `threads` command.
type ThreadInfo struct {
	ID       uint64
	Name     string
	CPU      int
	Prio     Priority
	Pinned   bool
	Runnable bool
	Running  bool
	Tokens   int
	Crit     int
	Switches uint64 // times the thread was switched to
}

// Threads collects every CPU's threads by asking each CPU (an external IPI) and waiting for
// the answers. Called from outside the system (the shell); it blocks while a CPU is busy.
func (s *System) Threads() []ThreadInfo {
	var out []ThreadInfo
	for i := 0; i < s.ncpu; i++ {
		ch := make(chan []ThreadInfo, 1)
		s.ipi.SendExternal(i, func(cpu int, _ any) { ch <- s.cpus[cpu].threadInfo() }, nil)
		out = append(out, <-ch...)
	}
	return out
}

// threadInfo describes c's threads, sorted by id.
func (c *CPU) threadInfo() []ThreadInfo {
	out := make([]ThreadInfo, 0, len(c.all))
	for td := range c.all {
		out = append(out, ThreadInfo{ID: td.id, Name: td.name, CPU: c.id, Prio: td.prio, Pinned: td.pinned,
			Runnable: td.onrunq, Running: td.running, Tokens: len(td.tokens), Crit: td.crit, Switches: td.nswitch})
	}
	slices.SortFunc(out, func(a, b ThreadInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// FormatThreads formats a Threads listing as a table for the shell.
func FormatThreads(infos []ThreadInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %-3s %-7s %-5s %-6s %6s %4s %10s  %s\n", "id", "cpu", "prio", "state", "pinned", "tokens", "crit", "switches", "name")
	for _, t := range infos {
		state := "block"
		switch {
		case t.Running:
			state = "run"
		case t.Runnable:
			state = "ready"
		}
		fmt.Fprintf(&b, "%-6d %-3d %-7v %-5s %-6v %6d %4d %10d  %s\n", t.ID, t.CPU, t.Prio, state, t.Pinned, t.Tokens, t.Crit, t.Switches, t.Name)
	}
	return b.String()
}
