package ci

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"damselfly/qemu"
)

// liveVM is a guest running in the background whose console a test follows.
type liveVM struct {
	*qemu.VM
	mu      sync.Mutex
	console strings.Builder
	waited  bool
}

// startUntil boots cfg (after taking a VM slot) and returns once a console
// line starts with marker, failing the test if none does within wait. The
// VM is killed at the end of the test unless the test waited for it, and
// its console is logged if the test failed.
func startUntil(t *testing.T, cfg qemu.Config, marker string, wait, limit time.Duration) *liveVM {
	t.Helper()
	acquireVM(t)
	v := &liveVM{}
	seen := make(chan struct{})
	var once sync.Once
	vm, err := qemu.Start(context.Background(), cfg, qemu.Options{
		Timeout: limit,
		OnLine: func(_ time.Duration, l string) {
			v.mu.Lock()
			v.console.WriteString(l + "\n")
			v.mu.Unlock()
			if strings.HasPrefix(l, marker) {
				once.Do(func() { close(seen) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	v.VM = vm
	t.Cleanup(func() {
		if !v.waited {
			vm.Kill()
			vm.Wait()
		}
		if t.Failed() {
			t.Logf("console:\n%s", v.Console())
		}
	})
	select {
	case <-seen:
	case <-time.After(wait):
		t.Fatalf("no console line starting with %q after %v", marker, wait)
	}
	return v
}

// Console is what the guest printed so far.
func (v *liveVM) Console() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.console.String()
}

// Wait waits for QEMU to exit (after a power-off the test asked for).
func (v *liveVM) Wait() (qemu.Result, error) {
	v.waited = true
	return v.VM.Wait()
}
