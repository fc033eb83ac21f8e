// The kernel's own self-tests: time, smp, fault.

//go:build tamago && amd64

package kernel

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
	"unsafe"

	"damselfly/board"
	"damselfly/board/microvm"
)

func init() {
	RegisterSelfTest("time", timeSelfTest)
	RegisterSelfTest("smp", smpSelfTest)
	RegisterSelfTest("fault", faultSelfTest)
}

// timeSelfTest sleeps 2 s and compares the kernel's clock with the CMOS
// RTC, which QEMU drives from the host's clock. Both intervals start and end
// at RTC second boundaries, so the RTC's one-second resolution does not
// limit the comparison; each boundary is bracketed by two kernel-clock
// readings, and the kernel's interval must be within 1% of the RTC's for
// some placement of the boundaries inside their brackets. Brackets wider
// than edgeSlack (the vCPU was descheduled while watching) are re-measured
// at the next second.
func timeSelfTest(t *T) error {
	now := func() int64 { return int64(microvm.Since()) }
	const edgeSlack, edgeTries = 10 * time.Millisecond, 10
	edge := func() (board.Edge, error) {
		var e board.Edge
		var err error
		for try := 0; try < edgeTries; try++ {
			if e, err = microvm.RTC.SecondEdge(now); err != nil || time.Duration(e.After-e.Before) <= edgeSlack {
				return e, err
			}
		}
		return e, fmt.Errorf("rtc: no second boundary seen within %v in %d tries (last bracket %v)", edgeSlack, edgeTries, time.Duration(e.After-e.Before))
	}
	e0, err := edge()
	if err != nil {
		return err
	}
	s0 := now()
	time.Sleep(2 * time.Second)
	slept := time.Duration(now() - s0)
	e1, err := edge()
	if err != nil {
		return err
	}
	wall := e1.Wall.Sub(e0.Wall)
	lo, hi := time.Duration(e1.Before-e0.After), time.Duration(e1.After-e0.Before)
	t.Logf("rtc %s -> %s: %v by the RTC, %v..%v by the kernel clock; time.Sleep(2s) took %v",
		e0.Wall.Format("15:04:05"), e1.Wall.Format("15:04:05"), wall, lo.Round(time.Microsecond), hi.Round(time.Microsecond), slept.Round(time.Microsecond))
	if slept < 2*time.Second {
		return fmt.Errorf("time.Sleep(2s) returned after %v", slept)
	}
	if wall < 2*time.Second {
		return fmt.Errorf("rtc advanced %v during a 2 s sleep", wall)
	}
	if tol := wall / 100; hi < wall-tol || lo > wall+tol {
		return fmt.Errorf("kernel clock %v..%v vs rtc %v: more than 1%% apart", lo, hi, wall)
	}
	return nil
}

// smpSelfTest runs one goroutine per online CPU, all at once: each waits
// until every other has started, so they must be on distinct CPUs, then
// does some work and reports the LAPIC id it ran on.
func smpSelfTest(t *T) error {
	n := runtime.GOMAXPROCS(0)
	type result struct {
		id   uint32
		work uint64
		xcr0 uint64
		copy bool // a 64 KiB copy (the runtime's large-memmove path, AVX where enabled) came out right
	}
	var started atomic.Int32
	results := make(chan result, n)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < n; i++ {
		go func() {
			// Locked so the goroutine stays on its CPU while it measures;
			// unlocked before it exits, since a goroutine that exits
			// locked takes its M with it and tamago never makes another.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			started.Add(1)
			for started.Load() < int32(n) && time.Now().Before(deadline) {
			}
			var x uint64 = 1
			for j := 0; j < 100000; j++ { // work: an LCG
				x = x*6364136223846793005 + 1442695040888963407
			}
			src, dst := make([]byte, 64<<10), make([]byte, 64<<10+1)
			for j := range src {
				src[j] = byte(j*7 + int(x))
			}
			copy(dst[1:], src) // unaligned destination
			results <- result{microvm.LAPICID(), x, microvm.XCR0(), bytes.Equal(dst[1:], src)}
		}()
	}
	seen := map[uint32]bool{}
	xcr0 := map[uint32]uint64{}
	var ids []int
	for i := 0; i < n; i++ {
		r := <-results
		if r.work == 0 {
			return fmt.Errorf("work on lapic %d computed nothing", r.id)
		}
		if !r.copy {
			return fmt.Errorf("a 64 KiB copy on lapic %d came out wrong", r.id)
		}
		if r.xcr0 != microvm.M.XCR0 {
			return fmt.Errorf("lapic %d has xcr0 %#x, the boot CPU %#x", r.id, r.xcr0, microvm.M.XCR0)
		}
		xcr0[r.id] = r.xcr0
		if !seen[r.id] {
			ids = append(ids, int(r.id))
		}
		seen[r.id] = true
	}
	sort.Ints(ids)
	for i, id := range ids {
		t.Logf("cpu%d lapic %d ran its share, xcr0 %#x", i, id, xcr0[uint32(id)])
	}
	if len(seen) != n {
		return fmt.Errorf("%d goroutines ran on %d distinct CPUs %v, want %d", n, len(seen), ids, n)
	}
	if target := microvm.M.Target; n != target {
		return fmt.Errorf("%d of %d CPUs online (%d present)", n, target, len(microvm.M.CPUs))
	}
	return nil
}

// faultAddr is far outside the identity map, so reading it page-faults.
var faultAddr uintptr = 0xdead0000000

var faultSink uint64

// faultSelfTest reads unmapped memory in a kernel goroutine: the report
// (exception, registers, disassembly, stack) is the test's output, and the
// kernel powers off with the failure status. Selecting it means "show me
// the panic report".
func faultSelfTest(t *T) error {
	done := make(chan struct{})
	go func() {
		faultSink = *(*uint64)(unsafe.Pointer(faultAddr))
		close(done)
	}()
	<-done
	return fmt.Errorf("read of %#x did not fault", faultAddr)
}
