package sched

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// goid returns the calling goroutine's id, parsed from its stack header.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

// TestBindRunsOnSchedulerGoroutine: Start calls Bind once per CPU on the goroutine that
// then runs that CPU's loop, before the CPU switches to any thread, so a guest that pins
// the goroutine in Bind pins the scheduler; SwitchCheck then runs on that same goroutine
// before every switch.
func TestBindRunsOnSchedulerGoroutine(t *testing.T) {
	const ncpu = 4
	var mu sync.Mutex
	bound := map[int]string{} // cpu -> goroutine that Bind ran on
	checks := map[int]int{}   // cpu -> SwitchCheck calls
	wrong := map[int]string{} // cpu -> goroutine of a SwitchCheck on another goroutine
	opts := Options{
		Bind: func(cpu int) error {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := bound[cpu]; dup {
				t.Errorf("Bind(%d) called twice", cpu)
			}
			bound[cpu] = goid()
			return nil
		},
		SwitchCheck: func(cpu int) {
			mu.Lock()
			defer mu.Unlock()
			g, ok := bound[cpu]
			if !ok {
				wrong[cpu] = "switch before Bind"
			} else if id := goid(); id != g {
				wrong[cpu] = id
			}
			checks[cpu]++
		},
	}
	s := startSystem(t, ncpu, opts)
	for cpu := 0; cpu < ncpu; cpu++ {
		s.Run(cpu, ThreadOpts{}, func(td *Thread) {
			for i := 0; i < 10; i++ {
				td.Yield()
			}
		})
	}
	if n, err := s.Bound(); n != ncpu || err != nil {
		t.Errorf("Bound() = %d, %v; want %d, nil", n, err, ncpu)
	}
	mu.Lock()
	defer mu.Unlock()
	for cpu := 0; cpu < ncpu; cpu++ {
		if checks[cpu] == 0 {
			t.Errorf("cpu %d: SwitchCheck never called", cpu)
		}
	}
	if len(wrong) != 0 {
		t.Errorf("SwitchCheck off the bound scheduler goroutine: %v", wrong)
	}
}

// TestBindFailureReported: a CPU whose Bind fails still runs, and Bound names the failure.
func TestBindFailureReported(t *testing.T) {
	errNoCPU := errors.New("no such CPU")
	s := startSystem(t, 2, Options{Bind: func(cpu int) error {
		if cpu == 1 {
			return errNoCPU
		}
		return nil
	}})
	ran := false
	s.Run(1, ThreadOpts{}, func(td *Thread) { ran = true })
	if !ran {
		t.Fatal("thread on the unbound CPU did not run")
	}
	s.Run(0, ThreadOpts{}, func(td *Thread) {}) // CPU 0's loop runs, so its Bind returned

	n, err := s.Bound()
	if n != 1 || !errors.Is(err, errNoCPU) {
		t.Errorf("Bound() = %d, %v; want 1, an error wrapping %v", n, err, errNoCPU)
	}
}
