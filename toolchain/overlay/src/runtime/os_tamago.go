// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

// OS layer for GOOS=tamago: the runtime runs on bare metal (or, for testing,
// as a Linux process) and reaches the machine only through the hooks of
// package runtime/goos, which a board package implements (see the tamago
// module's goos package for the contract). There are no system calls: time,
// console, randomness, CPUs and idling all go through goos.

package runtime

import (
	"internal/abi"
	"internal/cpu"
	"internal/runtime/atomic"
	"runtime/goos"
	"unsafe"
)

// mOS holds the per-M state of the tamago port.
type mOS struct {
	// waitsema is the M's semaphore (lock_sema.go): 1 when a wakeup is
	// pending. Written by semawakeup on any CPU, consumed by semasleep
	// on the M's own CPU.
	waitsema atomic.Uint32

	// g0lo is the g0 stack bound saved by newosproc; the AP start code
	// of the tamago module clobbers g0.stack.lo (it stores g at -8(FS)
	// with FS pointing at g+8), tamagoMStart puts it back.
	g0lo uintptr
}

// sigset and gsignalStack are unused: there are no OS signals.
type sigset struct{}
type gsignalStack struct{}

const _NSIG = 0

const preemptMSupported = false

// tamagoUserSP is the stack pointer at the ELF entry point when the image
// runs as a Linux process (argc, argv, envp live there); zero when booted
// through the PVH entry. Written once by _rt0_amd64_tamago before any Go
// code runs.
var tamagoUserSP uintptr

// bootInfo is the physical address of the PVH hvm_start_info structure,
// copied by _rt0_tamago_start from tamagoBootInfoSlot (see
// rt0_tamago_amd64.s). Zero when not booted through PVH. Written once before
// any Go code runs, read-only afterwards.
var bootInfo uintptr

// tamagoArgv is the argument vector used when booted without a loader that
// provides one: os.Args is ["tamago"] and the environment is empty.
var tamagoArg0 = [...]byte{'t', 'a', 'm', 'a', 'g', 'o', 0}
var tamagoArgv = [3]*byte{&tamagoArg0[0], nil, nil}

// tamagoMs counts the Ms running on a CPU (m0 on the boot CPU plus every M
// started through goos.Task). Each CPU runs at most one M; see
// tamagoCanStartM.
var tamagoMs atomic.Int32

// BootInfo returns the physical address of the Xen PVH hvm_start_info
// structure the image was booted with (the EBX value at the PVH entry), or 0
// when the image was not started through its PVH entry point.
func BootInfo() uintptr {
	return bootInfo
}

// CPU returns the processor name (CPUID brand string when available).
func CPU() string {
	if n := cpu.Name(); n != "" {
		return n
	}
	return GOARCH
}

// MemRegion returns the physical memory region [start, end) owned by the
// runtime: code, data, heap and stacks all live there.
func MemRegion() (start uint, end uint) {
	return goos.RamStart, goos.RamStart + goos.RamSize
}

func osinit() {
	// Board early hardware init: may set goos.Bloc, must not allocate.
	goos.Hwinit0()
	goos.InitRNG()

	physPageSize = goos.MinPhysPageSize
	if physPageSize < 4096 {
		physPageSize = 4096
	}
	initBloc()
	bloc = memRound(tamagoHeapStart())
	blocMax = bloc
	tamagoMs.Store(1)

	// One CPU until a board provides goos.Task and raises GOMAXPROCS.
	numCPUStartup = 1
	if goos.ProcID != nil {
		getg().m.procid = goos.ProcID()
	}
}

// sbrk hands out memory from [bloc, heapEnd): the RAM region minus the
// boot stack at its top (RamStackOffset plus the 64 KiB g0 stack of m0,
// see rt0_go). It runs with memlock held (mem_sbrk.go). When the region is
// used up it moves RAM given by AddRAM onto the free list and fails, and
// its callers look there again (tamagoram.go). After a warm reset it clears
// what it hands out for the first time (tamagoRAMDirty).
func sbrk(n uintptr) unsafe.Pointer {
	bl := bloc
	n = memRound(n)
	if bl+n > tamagoHeapEnd() || bl+n < bl {
		tamagoRefill(n)
		return nil
	}
	if bl+n > blocMax {
		if tamagoRAMDirty {
			from := max(bl, blocMax)
			memclrNoHeapPointers(unsafe.Pointer(from), bl+n-from)
		}
		blocMax = bl + n
	}
	bloc += n
	return unsafe.Pointer(bl)
}

func tamagoHeapEnd() uintptr {
	return uintptr(goos.RamStart+goos.RamSize-goos.RamStackOffset) - 64<<10
}

// tamagoHeapStart is where the heap starts: goos.Bloc when the board set it
// (needed when the code is not inside the RAM region, as for a Linux
// process), else the end of the image.
func tamagoHeapStart() uintptr {
	if goos.Bloc != 0 {
		return goos.Bloc
	}
	return firstmoduledata.end
}

func goenvs() {
	goenvs_unix()
}

func readRandom(r []byte) int {
	goos.GetRandomData(r)
	return len(r)
}

//go:nosplit
func nanotime1() int64 {
	return goos.Nanotime()
}

// walltime is the board's clock: tamago has a single time source and boards
// are expected to start it at the epoch-based time of day when they know it.
func walltime() (sec int64, nsec int32) {
	ns := goos.Nanotime()
	return ns / 1e9, int32(ns % 1e9)
}

//go:linkname syscall_now syscall.now
func syscall_now() (sec int64, nsec int32) {
	sec, nsec, _ = time_now()
	return
}

// write1 sends console output (any fd) to goos.Printk.
//
//go:nosplit
func write1(fd uintptr, p unsafe.Pointer, n int32) int32 {
	b := unsafe.Slice((*byte)(p), n)
	for _, c := range b {
		goos.Printk(c)
	}
	return n
}

func exit(code int32) {
	if goos.Exit != nil {
		goos.Exit(code)
	}
	// No way out: stop here. Other CPUs keep idling.
	for {
		tamagoIdle(nanotime() + 1e9)
	}
}

//go:nosplit
func exitThread(wait *atomic.Uint32) {
	// Ms never exit on tamago (one M per CPU).
	throw("exitThread")
}

func usleep(usec uint32) {
	tamagoSleepUntil(nanotime() + int64(usec)*1000)
}

//go:nosplit
func usleep_no_g(usec uint32) {
	usleep(usec)
}

func osyield() {}

//go:nosplit
func osyield_no_g() {}

// tamagoSleepUntil waits until the deadline, idling the CPU through goos.Idle.
//
//go:nosplit
func tamagoSleepUntil(deadline int64) {
	for nanotime() < deadline {
		tamagoIdle(deadline)
	}
}

// tamagoIdle lets the CPU rest until the deadline or an interrupt, whichever
// comes first; without a goos.Idle hook it returns at once (the callers
// loop, so the CPU then spins).
//
//go:nosplit
func tamagoIdle(until int64) {
	if goos.Idle != nil {
		goos.Idle(until)
	}
}

func open(name *byte, mode, perm int32) int32        { return -1 }
func closefd(fd int32) int32                         { return -1 }
func read(fd int32, p unsafe.Pointer, n int32) int32 { return -1 }

func madvise(addr unsafe.Pointer, n uintptr, flags int32) int32 { return 0 }

func mpreinit(mp *m) {}

//go:nosplit
func sigsave(p *sigset) {}

//go:nosplit
func msigrestore(sigmask sigset) {}

//go:nosplit
//go:nowritebarrierrec
func clearSignalHandlers() {}

//go:nosplit
func sigblock(exiting bool) {}

// minit runs on the new M's own CPU.
func minit() {
	if goos.ProcID != nil {
		getg().m.procid = goos.ProcID()
	}
}

func unminit() {}

func mdestroy(mp *m) {}

func signame(sig uint32) string { return "" }

func crash() { abort() }

func initsig(preinit bool) {}

//go:linkname os_sigpipe os.sigpipe
func os_sigpipe() {}

func preemptM(mp *m) {}

func setProcessCPUProfiler(hz int32) {}
func setThreadCPUProfiler(hz int32)  {}
func sigdisable(uint32)              {}
func sigenable(uint32)               {}
func sigignore(uint32)               {}

// sigpanic turns a fault reported by a board exception handler into a Go
// panic; boards do not do this yet, but the runtime needs the symbol.
func sigpanic() {
	gp := getg()
	if !canpanic() {
		throw("unexpected signal during runtime execution")
	}
	gp.sig = 0xb // SIGSEGV
	panicmem()
}

// tamagoCanStartM reports whether one more M can get a CPU: a board must
// provide goos.Task, and there is at most one M per P (the tamago module's
// Task refuses to start more CPUs than GOMAXPROCS).
func tamagoCanStartM() bool {
	return goos.Task != nil && tamagoMs.Load() < gomaxprocs
}

// newosproc starts mp on the next idle CPU through goos.Task. The CPU
// enters tamagoMStart with SP at the top of mp.g0's stack.
//
// May run with m.p==nil, so write barriers are not allowed.
//
//go:nowritebarrierrec
func newosproc(mp *m) {
	if !tamagoCanStartM() {
		print("runtime: tamago: no CPU for a new M (Ms=", tamagoMs.Load(), ", GOMAXPROCS=", gomaxprocs, ")\n")
		throw("newosproc")
	}
	tamagoMs.Add(1)
	mp.g0lo = mp.g0.stack.lo
	goos.Task(unsafe.Pointer(mp.g0.stack.hi), unsafe.Pointer(mp), unsafe.Pointer(mp.g0), unsafe.Pointer(abi.FuncPCABI0(tamagoMStart)))
}

// tamagoMStart is the CPU entry of an M started by newosproc (assembly).
func tamagoMStart()

// Semaphores for lock_sema.go: one per M. A sleeping M idles its CPU through
// goos.Idle in slices of at most tamagoIdleSlice, rechecking its semaphore
// after each, so a wakeup whose goos.Wake interrupt raced with the CPU going
// to sleep costs at most one slice instead of hanging the M.
const tamagoIdleSlice = 10 * 1000 * 1000 // 10 ms

func semacreate(mp *m) {}

//go:nosplit
func semasleep(ns int64) int32 {
	mp := getg().m
	var deadline int64
	if ns >= 0 {
		deadline = nanotime() + ns
	}
	for {
		if mp.waitsema.CompareAndSwap(1, 0) {
			return 0
		}
		now := nanotime()
		if ns >= 0 && now >= deadline {
			return -1
		}
		until := now + tamagoIdleSlice
		if ns >= 0 && deadline < until {
			until = deadline
		}
		tamagoIdle(until)
	}
}

//go:nosplit
func semawakeup(mp *m) {
	mp.waitsema.Store(1)
	if goos.Wake != nil && mp != getg().m {
		goos.Wake(mp.procid)
	}
}

// tamagoHwinit1 runs the board's late init (runtime.main, before package
// initialization).
func tamagoHwinit1() {
	goos.Hwinit1()
}

// syscall_tamagoWrite is the console writer of package syscall (stdout and
// stderr go to goos.Printk like the runtime's own output).
//
//go:linkname syscall_tamagoWrite syscall.tamagoWrite
func syscall_tamagoWrite(fd uintptr, p unsafe.Pointer, n int32) int32 {
	return write1(fd, p, n)
}

// sysrand_getRandomData serves crypto/internal/sysrand.
//
//go:linkname sysrand_getRandomData crypto/internal/sysrand.getRandomData
func sysrand_getRandomData(b []byte) {
	goos.GetRandomData(b)
}

// getCPUCount is the CPU count before a board starts more CPUs: one.
func getCPUCount() int32 { return 1 }

// syscall_hosted tells package syscall whether the program runs as a Linux
// process (entered through the ELF entry point, see rt0_tamago_amd64.s), in
// which case it may serve paths through the host kernel.
//
//go:linkname syscall_hosted syscall.hosted
func syscall_hosted() bool {
	return tamagoUserSP != 0
}
