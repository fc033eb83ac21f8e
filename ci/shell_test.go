package ci

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"damselfly/qemu"
)

// console is a guest driven through its serial shell: what it prints is
// kept and can be waited for line by line, keystrokes go to its stdin.
type console struct {
	t     *testing.T
	vm    *qemu.VM
	in    *io.PipeWriter
	lines chan string
	mu    sync.Mutex
	all   strings.Builder
}

// startConsole boots cfg with the serial console on a pipe.
func startConsole(t *testing.T, cfg qemu.Config, timeout time.Duration) *console {
	t.Helper()
	inR, inW := io.Pipe()
	c := &console{t: t, in: inW, lines: make(chan string, 256)}
	vm, err := qemu.Start(context.Background(), cfg, qemu.Options{
		Stdin: inR, Timeout: timeout,
		OnLine: func(_ time.Duration, l string) {
			c.mu.Lock()
			c.all.WriteString(l + "\n")
			c.mu.Unlock()
			select {
			case c.lines <- l:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.vm = vm
	t.Cleanup(func() { inW.Close() })
	return c
}

// waitFor reads the console until a line contains want and returns the lines
// read up to and including it; after 60 s it kills the guest and fails.
func (c *console) waitFor(want string) []string {
	c.t.Helper()
	var seen []string
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l := <-c.lines:
			seen = append(seen, l)
			if strings.Contains(l, want) {
				return seen
			}
		case <-deadline:
			c.vm.Kill()
			c.t.Fatalf("no %q on the console:\n%s", want, c.text())
		}
	}
}

// typeIn sends keystrokes.
func (c *console) typeIn(keys string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, keys); err != nil {
		c.t.Fatalf("typing %q: %v", keys, err)
	}
}

func (c *console) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all.String()
}

// wait ends the input and requires the guest to power off with success.
func (c *console) wait() {
	c.t.Helper()
	c.in.Close()
	res, err := c.vm.Wait()
	if err != nil {
		c.t.Fatalf("%v (status %d):\n%s", err, res.Status, c.text())
	}
}

// TestBootShell types at the serial shell the way a terminal does (with a
// typo fixed by backspace and a recalled history line) and powers off from
// it.
func TestBootShell(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	acquireVM(t)
	c := startConsole(t, qemu.Config{Kernel: k, SMP: 2, Append: "shell"}, 90*time.Second)
	c.waitFor("damselfly shell: type help")
	c.typeIn("cpuss\x7f\r") // typo, backspace
	c.waitFor("2/2 online")
	c.typeIn("mem\r")
	c.waitFor("usable ")
	c.typeIn("\x1b[A\x1b[A\r") // history: cpus again
	c.waitFor("2/2 online")
	c.typeIn("stats\r")
	c.waitFor("clock.tsc_hz")
	c.typeIn("selftest\r")
	c.waitFor("self-tests: ")
	c.typeIn("poweroff\r")
	c.wait()
}

// TestBootReboot reboots from the shell in a QEMU that restarts the guest on
// a reset, as a deployment without -no-reboot does. The reset leaves RAM as
// the first boot left it: the first boot fills 64 MiB of fresh heap with a
// pattern (selftest memzero), the second must find its fresh memory zero
// all the same, say that it cleared the last boot's memory, and run. The
// reboot itself must first run the shutdown hooks (filesystems synced).
func TestBootReboot(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	acquireVM(t)
	c := startConsole(t, qemu.Config{Kernel: k, SMP: 2, Memory: "256M", Append: "shell", Reboot: true}, 150*time.Second)
	first := c.waitFor("damselfly shell: type help")
	for _, l := range first {
		if strings.Contains(l, "warm reset") {
			t.Errorf("cold boot reported a warm one: %q", l)
		}
	}
	c.typeIn("selftest memzero\r")
	c.waitFor("selftest memzero: ok")
	c.typeIn("reboot\r")
	down := c.waitFor("info: reset")
	if !containsLine(down, "shutdown: filesystems done") {
		t.Errorf("reset without the shutdown hooks:\n%s", strings.Join(down, "\n"))
	}
	second := c.waitFor("damselfly shell: type help")
	if !containsLine(second, "boot: warm reset 1: cleared ") {
		t.Errorf("second boot does not report the warm reset:\n%s", strings.Join(second, "\n"))
	}
	c.typeIn("selftest memzero\r")
	c.waitFor("selftest memzero: ok")
	c.typeIn("poweroff\r")
	c.wait()
	if strings.Contains(c.text(), "FAIL") || strings.Contains(c.text(), "fatal error") {
		t.Errorf("console:\n%s", c.text())
	}
}

func containsLine(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
