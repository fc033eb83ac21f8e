package ci

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"damselfly/qemu"
)

// Boot to first HTTP answer, measured from the host (docs/boot.md, "Boot
// timeline"). The prober runs as a child process inside the test's network
// namespace (this test binary again, TestBootProbeHelper), so every socket
// it opens is on the tap's side; it reports the wall-clock time of the
// first GET / answered 200, which the test compares with the time it
// started QEMU.
const (
	probeEnv      = "DAMSELFLY_PROBE_URL"
	probeInterval = 5 * time.Millisecond   // a new connection this often
	probeTimeout  = 300 * time.Millisecond // each probe's limit
	probeInFlight = 128
	bootGuestMAC  = "52:54:00:d5:0b:03"
)

// TestBootProbeHelper is the prober when run with DAMSELFLY_PROBE_URL set;
// otherwise it does nothing. It prints "probing" once started, then
// "ok <unix ns>" at the first 200, and exits.
func TestBootProbeHelper(t *testing.T) {
	url := os.Getenv(probeEnv)
	if url == "" {
		t.Skip("only runs as the boot prober (TestBootToHTTP starts it)")
	}
	c := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	fmt.Println("probing")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	at, err := qemu.FirstHTTP200(ctx, c, url, probeInterval, probeInFlight)
	if err != nil {
		fmt.Println("timeout")
		return
	}
	fmt.Printf("ok %d\n", at.UnixNano())
}

// bootRun is one boot's figures, host side (since QEMU was started) and
// guest side (the guest's own clock, since its PVH entry).
type bootRun struct {
	firstLine, ready, up, http time.Duration // host
	guestUp                    time.Duration // guest log stamp of "appliance: serving"
	profile                    []string      // bootprofile: lines
}

var (
	stampRE   = regexp.MustCompile(`^\[\s*(\d+)\.(\d{6})\] info: appliance: serving`)
	profileRE = regexp.MustCompile(`^bootprofile: +(-?[0-9.]+) +(-?[0-9.]+)  (.+)$`)
)

// bootToHTTP boots k once on ns's tap with disk and measures it.
func bootToHTTP(t *testing.T, ns *netns, k, disk string) bootRun {
	t.Helper()
	probe := exec.Command("ip", "netns", "exec", ns.name, os.Args[0], "-test.run=^TestBootProbeHelper$", "-test.count=1")
	probe.Env = append(os.Environ(), probeEnv+"=http://10.0.3.2/")
	out, err := probe.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { probe.Process.Kill(); probe.Wait() }()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "probing" {
		t.Fatalf("prober did not start: %q", lines.Text())
	}

	// DAMSELFLY_BOOT_ICOUNT=1: the guest clock counts instructions (1 ns
	// each) and skips idle time to the next timer, so the guest's profile
	// measures its work and its timer waits, not the host's load.
	var extra []string
	if os.Getenv("DAMSELFLY_BOOT_ICOUNT") == "1" {
		extra = []string{"-icount", "shift=0,sleep=off"}
	}
	var r bootRun
	var console strings.Builder
	linec := make(chan struct{})
	start := time.Now()
	vm, err := qemu.Start(context.Background(), qemu.Config{
		Binary: ns.qemuWrapper(t), Kernel: k, SMP: 2, Memory: "512M", Disks: []string{disk},
		Net: qemu.NetTap, Tap: "tap0", MAC: bootGuestMAC,
		Append: "ip=10.0.3.2/24,gw=10.0.3.1 root=/dev/vda ro bootprofile",
		Extra:  extra,
	}, qemu.Options{
		Timeout: 2 * time.Minute,
		OnLine: func(d time.Duration, l string) {
			console.WriteString(l + "\n")
			if r.firstLine == 0 {
				r.firstLine = d
			}
			if r.ready == 0 && strings.HasPrefix(l, "damselfly: ready") {
				r.ready = d
			}
			if r.up == 0 && strings.HasPrefix(l, "damselfly: appliance up") {
				r.up = d
			}
			if m := stampRE.FindStringSubmatch(l); m != nil {
				s, _ := strconv.Atoi(m[1])
				us, _ := strconv.Atoi(m[2])
				r.guestUp = time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond
			}
			if strings.HasPrefix(l, "bootprofile: ") {
				r.profile = append(r.profile, l)
				if strings.HasSuffix(l, "first HTTP handler returned") {
					close(linec)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { vm.Kill(); vm.Wait() }()
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "ok ") {
		t.Fatalf("no HTTP 200 (prober: %q); console:\n%s", lines.Text(), console.String())
	}
	ns2, _ := strconv.ParseInt(strings.TrimPrefix(lines.Text(), "ok "), 10, 64)
	r.http = time.Unix(0, ns2).Sub(start)
	select {
	case <-linec:
	case <-time.After(30 * time.Second):
		t.Fatalf("no boot profile on the console:\n%s", console.String())
	}
	return r
}

// TestBootToHTTP boots the appliance with its disk on a tap (as make bench
// does) and measures QEMU start to the console's first line, the ready line,
// "appliance up" and the first GET / answered 200, plus the guest's own
// phase timeline (bootprofile). With DAMSELFLY_KERNEL_B it boots that image
// in turn with DAMSELFLY_KERNEL (A B B A A B ...) and logs both, for A/B
// comparisons of boot changes; DAMSELFLY_BOOT_RUNS sets the boots of each
// (default 1), DAMSELFLY_BOOT_PROFILES=all logs every boot's profile (else
// the last of each image), DAMSELFLY_BOOT_ICOUNT=1 runs the guest on an
// instruction-counting clock (see bootToHTTP). It checks that every figure was measured and the guest's
// phases are in order; the figures are logged, not asserted.
func TestBootToHTTP(t *testing.T) {
	needE2fsprogs(t)
	kernels := []string{kernel(t)}
	if b := os.Getenv("DAMSELFLY_KERNEL_B"); b != "" {
		kernels = append(kernels, b)
	}
	runs := 1
	if s := os.Getenv("DAMSELFLY_BOOT_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 50 {
			t.Fatalf("DAMSELFLY_BOOT_RUNS=%q: want 1..50", s)
		}
		runs = n
	}
	ns := newTapNetns(t, fmt.Sprintf("dfly-boot-%d", os.Getpid()))
	ns.output(t, "ip", "neigh", "replace", "10.0.3.2", "lladdr", bootGuestMAC, "dev", "tap0", "nud", "permanent")
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	writeTree(t, site, map[string][]byte{"index.html": []byte(strings.Repeat("<p>Damselfly boot probe</p>\n", 37))})
	disk := filepath.Join(dir, "disk.img")
	mkext2(t, disk, "1024", "8M", site)
	acquireVM(t)

	results := make([][]bootRun, len(kernels))
	for i := 0; i < runs; i++ {
		// A B, then B A, ...: each image takes each place in a pair
		// equally often. The same image booted as both A and B gave
		// medians of 20 (PVH entry to first 200) 15 ms apart either way
		// (163.9 vs 149.1 ms A B A B ..., 171.3 vs 185.1 A B B A ...):
		// smaller differences are noise at this count.
		order := []int{0, 1}[:len(kernels)]
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, j := range order {
			k := kernels[j]
			r := bootToHTTP(t, ns, k, disk)
			if r.firstLine == 0 || r.ready == 0 || r.up == 0 || r.guestUp == 0 || len(r.profile) < 5 {
				t.Fatalf("%s: a figure is missing: %+v", k, r)
			}
			// The first 200 may beat the "appliance up" line to the host:
			// port 80 serves as soon as the root is mounted, just before
			// the line is printed. It cannot beat the ready line.
			if !(r.firstLine <= r.ready && r.ready <= r.up && r.ready <= r.http) {
				t.Errorf("%s: out of order: first line %v, ready %v, up %v, HTTP 200 %v", k, r.firstLine, r.ready, r.up, r.http)
			}
			prev := -1e9
			for _, l := range r.profile[1:] {
				m := profileRE.FindStringSubmatch(l)
				if m == nil {
					continue // the "marks dropped" note
				}
				at, _ := strconv.ParseFloat(m[1], 64)
				if at < prev {
					t.Errorf("%s: profile not in order at %q", k, l)
				}
				prev = at
			}
			t.Logf("%s run %d: QEMU start to first console line %v, ready %v, appliance up %v (guest clock %v: %v before PVH entry), first HTTP 200 %v (%v after PVH entry)",
				filepath.Base(k), i+1, ms(r.firstLine), ms(r.ready), ms(r.up), ms(r.guestUp), ms(r.up-r.guestUp), ms(r.http), ms(r.http-(r.up-r.guestUp)))
			if os.Getenv("DAMSELFLY_BOOT_PROFILES") == "all" {
				t.Logf("%s run %d boot profile:\n%s", filepath.Base(k), i+1, strings.Join(r.profile, "\n"))
			}
			results[j] = append(results[j], r)
		}
	}
	for j, k := range kernels {
		rs := results[j]
		med := func(f func(bootRun) time.Duration) time.Duration {
			v := make([]time.Duration, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
			return v[len(v)/2]
		}
		t.Logf("%s: medians of %d: first line %v, ready %v, appliance up %v, pre-entry %v, first HTTP 200 %v, PVH entry to first HTTP 200 %v",
			k, len(rs), ms(med(func(r bootRun) time.Duration { return r.firstLine })),
			ms(med(func(r bootRun) time.Duration { return r.ready })),
			ms(med(func(r bootRun) time.Duration { return r.up })),
			ms(med(func(r bootRun) time.Duration { return r.up - r.guestUp })),
			ms(med(func(r bootRun) time.Duration { return r.http })),
			ms(med(func(r bootRun) time.Duration { return r.http - (r.up - r.guestUp) })))
		t.Logf("%s: boot profile of the last run:\n%s", k, strings.Join(rs[len(rs)-1].profile, "\n"))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }
