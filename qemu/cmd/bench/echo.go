package main

// --mode echo: only the echo figure, for work on the echo path (issue #9).
// Each boot waits for the first HTTP 200, saves /status.json, runs the echo
// exchange --echo-reps times, saves /status.json again; with --pcap (tap
// only) tcpdump records the first exchange's TCP headers. It prints every
// exchange and the medians per guest with their ratio, and writes
// OUT/echo.json; it does not touch report.html or results.json, so a full
// run's report in the same directory survives.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"damselfly/qemu"
	"damselfly/qemu/bench"
)

// echoOptions are the flags only --mode echo reads.
type echoOptions struct {
	reps   int    // exchanges per boot
	guests string // comma-separated: damselfly, linux
	pcap   bool   // capture the first exchange of each boot (tap only)
	mib    int    // MiB per exchange
	// profile: sample the guest's vCPUs through QEMU's gdbstub during
	// the exchanges (gdbprof.go), to OUT/echo-<guest>-<round>.prof.
	profile time.Duration
}

// echoRun is one boot in --mode echo.
type echoRun struct {
	Guest string    `json:"guest"`
	Round int       `json:"round"`
	MBps  []float64 `json:"mbps"` // one per exchange, in order
	// CPUms is QEMU's CPU time (all threads) per exchange, tap only.
	CPUms  []float64 `json:"qemu_cpu_ms,omitempty"`
	Errors []string  `json:"errors,omitempty"`
}

// pickGuests keeps the guests named in list (both when list is empty).
func pickGuests(all []guest, list string) ([]guest, error) {
	if list == "" {
		return all, nil
	}
	var out []guest
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, g := range all {
			if g.name == strings.TrimSpace(name) {
				out, found = append(out, g), true
			}
		}
		if !found {
			return nil, fmt.Errorf("--guests: unknown guest %q (want %s or %s)", name, bench.Damselfly, bench.Linux)
		}
	}
	return out, nil
}

// runEcho is --mode echo; ns is nil with user networking.
func runEcho(ctx context.Context, o options, guests []guest, t target, ns *netns, ld load) int {
	guests, err := pickGuests(guests, o.echo.guests)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	if o.echo.pcap && ns == nil {
		fmt.Fprintln(os.Stderr, "bench: --pcap needs the tap (root)")
		return 2
	}
	loadStart := loadAvg()
	warmUp(ctx, guests[0])
	var runs []echoRun
	for round := 1; round <= o.runs; round++ {
		for _, g := range guests {
			r := echoRun{Guest: g.name, Round: round}
			prefix := fmt.Sprintf("bench: echo %s round %d", g.name, round)
			echoBoot(ctx, o, g, t, ns, ld, prefix, &r)
			fmt.Fprintf(os.Stderr, "%s: MB/s %s\n", prefix, fmtFloats(r.MBps))
			for _, e := range r.Errors {
				fmt.Fprintf(os.Stderr, "%s: %s\n", prefix, e)
			}
			runs = append(runs, r)
			if ctx.Err() != nil {
				fmt.Fprintln(os.Stderr, "bench: interrupted")
				return 2
			}
		}
	}
	med := map[string]float64{}
	status := 0
	for _, g := range guests {
		var all []float64
		for _, r := range runs {
			if r.Guest == g.name {
				all = append(all, r.MBps...)
				if len(r.Errors) > 0 {
					status = 1
				}
			}
		}
		var cpu []float64
		for _, r := range runs {
			if r.Guest == g.name {
				cpu = append(cpu, r.CPUms...)
			}
		}
		med[g.name] = bench.Median(all)
		fmt.Printf("echo %-9s median %.1f MB/s over %d exchanges: %s\n", g.name, med[g.name], len(all), fmtFloats(all))
		if len(cpu) > 0 {
			fmt.Printf("echo %-9s QEMU CPU per exchange median %.0f ms: %s\n", g.name, bench.Median(cpu), fmtFloats(cpu))
		}
	}
	if len(guests) == 2 {
		fmt.Printf("echo ratio damselfly/linux %.2f\n", bench.Ratio(med[bench.Damselfly], med[bench.Linux]))
	}
	fmt.Printf("load average %s at the start, %s at the end\n", loadStart, loadAvg())
	doc := struct {
		Command string    `json:"command"`
		Date    time.Time `json:"date"`
		Bytes   int       `json:"bytes"`
		Load    [2]string `json:"load_average"`
		Runs    []echoRun `json:"runs"`
	}{o.command, time.Now().UTC(), ld.echoBytes, [2]string{loadStart, loadAvg()}, runs}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(filepath.Join(o.out, "echo.json"), append(b, '\n'), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		status = 1
	}
	return status
}

// echoBoot boots g once and runs the exchanges.
func echoBoot(ctx context.Context, o options, g guest, t target, ns *netns, ld load, prefix string, r *echoRun) {
	errorf := func(format string, a ...any) { r.Errors = append(r.Errors, fmt.Sprintf(format, a...)) }
	base := filepath.Join(o.out, fmt.Sprintf("echo-%s-%d", g.name, r.Round))
	cfg := g.cfg
	gdbSock := base + ".gdb"
	if o.echo.profile > 0 {
		os.Remove(gdbSock)
		cfg.Extra = append(append([]string(nil), cfg.Extra...), "-gdb", "unix:"+gdbSock+",server=on,wait=off")
	}
	start := time.Now()
	vm, err := qemu.Start(ctx, cfg, qemu.Options{SerialLog: base + "-serial.log", Timeout: ld.bootLimit + 5*time.Minute})
	if err != nil {
		errorf("boot: %v", err)
		return
	}
	defer func() {
		vm.Kill()
		vm.Wait()
	}()
	if _, err := waitHTTP(ctx, t, start, ld.bootLimit); err != nil {
		errorf("boot: %v", err)
		return
	}
	if err := saveStatus(ctx, t, base+"-status-before.json"); err != nil {
		errorf("%v", err)
	}
	var prof *profiler
	if o.echo.profile > 0 {
		if prof, err = startProfiler(gdbSock, o.echo.profile); err != nil {
			errorf("profile: %v", err)
		} else {
			defer func() {
				if err := prof.stop(base + ".prof"); err != nil {
					errorf("profile: %v", err)
				}
				os.Remove(gdbSock)
			}()
		}
	}
	for i := 0; i < o.echo.reps; i++ {
		var stop func() error
		if o.echo.pcap && i == 0 {
			if stop, err = startCapture(ctx, ns, base+".pcap"); err != nil {
				errorf("pcap: %v", err)
			}
		}
		var before cpuTimes
		if ns != nil {
			before, _ = qemuCPU(ns)
		}
		if prof != nil {
			prof.enable(true)
		}
		mbps, err := echoMBps(ctx, t, ld.echoBytes)
		if prof != nil {
			prof.enable(false)
		}
		if before != nil {
			if after, cerr := qemuCPU(ns); cerr == nil {
				d := after.sub(before)
				r.CPUms = append(r.CPUms, float64(d.total().Milliseconds()))
				fmt.Fprintf(os.Stderr, "%s: exchange %d: %.1f MB/s, QEMU CPU %s\n", prefix, i+1, mbps, d)
			}
		}
		if stop != nil {
			if err := stop(); err != nil {
				errorf("pcap: %v", err)
			}
		}
		if err != nil {
			errorf("exchange %d: %v", i+1, err)
			continue
		}
		r.MBps = append(r.MBps, mbps)
	}
	if err := saveStatus(ctx, t, base+"-status-after.json"); err != nil {
		errorf("%v", err)
	}
}

// saveStatus writes the guest's /status.json to path.
func saveStatus(ctx context.Context, t target, path string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", t.base+"/status.json", nil)
	resp, err := t.client(10 * time.Second).Do(req)
	if err != nil {
		return fmt.Errorf("status.json: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("status.json: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// startCapture runs tcpdump on the namespace's tap for TCP port 7, headers
// only (128 bytes a frame; --immediate-mode, or what sits in the capture
// ring when it is stopped is lost); stop ends it and waits until the file is
// written.
func startCapture(ctx context.Context, ns *netns, path string) (stop func() error, err error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, fmt.Errorf("tcpdump not installed (apt-get install tcpdump)")
	}
	cmd := ns.cmd(ctx, "tcpdump", "-i", "tap0", "-s", "128", "--immediate-mode", "-U", "-w", path, "tcp", "port", "7")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// tcpdump says "listening on tap0" once its filter is attached.
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 512)
		var seen strings.Builder
		defer func() { os.WriteFile(path+".log", []byte(seen.String()), 0o644) }()
		for {
			n, err := stderr.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "listening on") {
				close(ready)
				b, _ := io.ReadAll(stderr)
				seen.Write(b)
				return
			}
			if err != nil {
				close(ready)
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
	}
	return func() error {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait() // tcpdump exits with status 0 on SIGINT; ip netns exec may not
		if _, err := os.Stat(path); err != nil {
			return err
		}
		return nil
	}, nil
}

func fmtFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(s, " ")
}

// cpuTimes is the CPU time each thread of the namespace's QEMU has used,
// summed by thread name ("CPU 0/TCG", "qemu-system-x86", ...): under TCG a
// vCPU thread runs only while the guest does (a halted vCPU sleeps), so the
// difference over an exchange is the guest's CPU cost, which varies less
// with the host's load than the MB/s do.
type cpuTimes map[string]time.Duration

// qemuCPU finds the QEMU process in namespace ns and reads its threads'
// CPU times from /proc (statCPU).
func qemuCPU(ns *netns) (cpuTimes, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/var/run/netns/"+ns.name, &st); err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		var pst syscall.Stat_t
		if syscall.Stat("/proc/"+pid+"/ns/net", &pst) != nil || pst.Ino != st.Ino || pst.Dev != st.Dev {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + pid + "/comm")
		if !strings.HasPrefix(string(comm), "qemu-system") {
			continue
		}
		tasks, err := os.ReadDir("/proc/" + pid + "/task")
		if err != nil {
			return nil, err
		}
		out := cpuTimes{}
		for _, t := range tasks {
			dir := "/proc/" + pid + "/task/" + t.Name()
			name, _ := os.ReadFile(dir + "/comm")
			stat, err := os.ReadFile(dir + "/stat")
			if err != nil {
				continue // the thread ended
			}
			if d, ok := statCPU(string(stat)); ok {
				out[strings.TrimSpace(string(name))] += d
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no QEMU process in namespace %s", ns.name)
}

// statCPU reads utime+stime from a /proc/<pid>/task/<tid>/stat line
// (proc(5): fields 14 and 15, counted after the parenthesised name, which
// may itself hold spaces and parentheses) in clock ticks of 10 ms
// (USER_HZ is 100 on Linux x86).
func statCPU(s string) (time.Duration, bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || ut < 0 || st < 0 {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// sub is c minus before, per thread name, leaving out threads that used
// nothing.
func (c cpuTimes) sub(before cpuTimes) cpuTimes {
	out := cpuTimes{}
	for k, v := range c {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (c cpuTimes) total() (t time.Duration) {
	for _, v := range c {
		t += v
	}
	return t
}

func (c cpuTimes) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%dms", strings.ReplaceAll(k, " ", ""), c[k].Milliseconds())
	}
	return strings.TrimSpace(b.String())
}
