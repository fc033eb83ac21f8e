package ci

import (
	"context"
	"io"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"damselfly/qemu"
)

var uptimeRE = regexp.MustCompile(`up ([0-9hms.]+)`)

// TestTimeTracksHostMinute asks the shell for its uptime twice, a minute
// apart by the host's clock, and requires the kernel to agree within 1%.
// It takes over a minute, beside the other boot tests; DAMSELFLY_SHORT=1
// leaves it out.
func TestTimeTracksHostMinute(t *testing.T) {
	if os.Getenv("DAMSELFLY_SHORT") != "" {
		t.Skip("DAMSELFLY_SHORT is set: the one-minute clock test is left out")
	}
	t.Parallel()
	k := kernel(t)
	inR, inW := io.Pipe()
	var mu sync.Mutex
	var ups []time.Duration
	got := make(chan struct{}, 4)
	ready := make(chan struct{})
	var once sync.Once
	vm, err := qemu.Start(context.Background(), qemu.Config{Kernel: k, SMP: 2, Append: "shell"}, qemu.Options{
		Stdin: inR, Timeout: 5 * time.Minute,
		OnLine: func(_ time.Duration, l string) {
			if readyRE.MatchString(l) {
				once.Do(func() { close(ready) })
			}
			if m := uptimeRE.FindStringSubmatch(l); m != nil {
				d, err := time.ParseDuration(m[1])
				if err == nil {
					mu.Lock()
					ups = append(ups, d)
					mu.Unlock()
					got <- struct{}{}
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { inW.Close(); vm.Kill(); vm.Wait() }()
	<-ready
	ask := func() time.Time {
		h := time.Now()
		io.WriteString(inW, "uptime\r")
		<-got
		return h
	}
	h0 := ask()
	time.Sleep(time.Minute)
	h1 := ask()
	mu.Lock()
	kern := ups[1] - ups[0]
	mu.Unlock()
	host := h1.Sub(h0)
	diff := kern - host
	if diff < 0 {
		diff = -diff
	}
	t.Logf("host %v, kernel %v, difference %.3f%%", host.Round(time.Millisecond), kern, 100*float64(diff)/float64(host))
	if diff*100 > host {
		t.Errorf("kernel time drifted more than 1%% over a minute")
	}
}
