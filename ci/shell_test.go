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
// the first boot left it: the first boot fills fresh heap with patterns (the
// memzero and highmem self-tests, run from the shell), and the second must
// report the warm reset, find its fresh memory zero all the same (the
// runtime clears it as the heap takes it) and power off cleanly. The reboot
// itself must run the shutdown hooks first (filesystems synced). The 6 GiB
// guest checks the RAM above the 4 GiB hole too, which reaches the heap
// through runtime.AddRAM.
func TestBootReboot(t *testing.T) {
	k := kernel(t)
	for _, v := range []struct{ mem, tests string }{{"256M", "memzero"}, {"6G", "memzero highmem"}} {
		v := v
		t.Run(v.mem, func(t *testing.T) {
			t.Parallel()
			acquireVM(t)
			c := startConsole(t, qemu.Config{Kernel: k, SMP: 2, Memory: v.mem, Append: "shell", Reboot: true}, 150*time.Second)
			selftests := func() {
				t.Helper()
				c.typeIn("selftest " + v.tests + "\r")
				for _, name := range strings.Fields(v.tests) {
					c.waitFor("selftest " + name + ": ")
				}
			}
			first := c.waitFor("damselfly shell: type help")
			if containsLine(first, "warm reset") {
				t.Errorf("cold boot reported a warm one:\n%s", strings.Join(first, "\n"))
			}
			selftests()
			c.typeIn("reboot\r")
			down := c.waitFor("info: reset")
			if !containsLine(down, "shutdown: filesystems done") {
				t.Errorf("reset without the shutdown hooks:\n%s", strings.Join(down, "\n"))
			}
			second := c.waitFor("damselfly shell: type help")
			if !containsLine(second, "boot: warm reset 1: ") {
				t.Errorf("second boot does not report the warm reset:\n%s", strings.Join(second, "\n"))
			}
			selftests()
			c.typeIn("poweroff\r")
			c.wait()
			out := c.text()
			for _, name := range strings.Fields(v.tests) {
				if n := strings.Count(out, "selftest "+name+": ok"); n != 2 {
					t.Errorf("selftest %s passed %d times of 2:\n%s", name, n, out)
				}
			}
		})
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
