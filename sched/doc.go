// Package sched is Damselfly's LWKT core (DragonFly BSD's light weight kernel threads):
// per-CPU schedulers, threads, critical sections, serializing tokens, message ports and
// per-CPU timers, built on package ipi for everything that crosses CPUs.
//
// A System has N CPUs. Each CPU runs one scheduler loop (CPU.Run) on one goroutine, and
// that CPU's threads are coroutines which only the loop resumes (iter.Pull: a switch is a
// direct goroutine handoff that bypasses the Go scheduler). So at most one of a CPU's threads
// runs at any time, and the CPU's structures (run queue, timers, sleep queues, thread ports)
// are touched only by that CPU, without locks. Work for another CPU travels as an IPI.
// docs/lwkt.md explains the choice and its rules.
//
// The rules are enforced by the API rather than by comments:
//   - Every operation that blocks or switches is a method on *Thread and panics unless that
//     thread is the one running on its CPU.
//   - Non-blocking operations (SendMsg, ReplyMsg, Schedule, AfterFunc, Wakeup) take the *CPU
//     of the caller (a thread's td.CPU(), or the cpu an IPI or timer function was given).
//   - Code outside the system (plain goroutines: tests, host device emulation, the shell)
//     uses the System's ...External methods, which go through a locked side queue.
//
// Misuse (blocking from the wrong goroutine, replying twice, sending a message that is in
// flight) is a programming bug and panics with a message saying which rule was broken.
package sched
