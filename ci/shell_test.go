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

// TestBootShell types at the serial shell the way a terminal does (with a
// typo fixed by backspace and a recalled history line) and powers off from
// it.
func TestBootShell(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	acquireVM(t)
	inR, inW := io.Pipe()
	defer inW.Close()
	var mu sync.Mutex
	var console strings.Builder
	lines := make(chan string, 256)
	vm, err := qemu.Start(context.Background(), qemu.Config{Kernel: k, SMP: 2, Append: "shell"}, qemu.Options{
		Stdin: inR, Timeout: 90 * time.Second,
		OnLine: func(_ time.Duration, l string) {
			mu.Lock()
			console.WriteString(l + "\n")
			mu.Unlock()
			select {
			case lines <- l:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case l := <-lines:
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				vm.Kill()
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("no %q on the console:\n%s", want, console.String())
			}
		}
	}
	waitFor("damselfly shell: type help")
	io.WriteString(inW, "cpuss\x7f\r") // typo, backspace
	waitFor("2/2 online")
	io.WriteString(inW, "mem\r")
	waitFor("usable ")
	io.WriteString(inW, "\x1b[A\x1b[A\r") // history: cpus again
	waitFor("2/2 online")
	io.WriteString(inW, "stats\r")
	waitFor("clock.tsc_hz")
	io.WriteString(inW, "poweroff\r")
	inW.Close()
	res, err := vm.Wait()
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%v (status %d):\n%s", err, res.Status, console.String())
	}
}
