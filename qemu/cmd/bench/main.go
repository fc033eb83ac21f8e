// Command bench compares the Damselfly appliance with a Linux guest running
// the same handler (issue #9). make bench builds the inputs and runs it:
//
//	go run ./qemu/cmd/bench --kernel build/kernel.elf --linux build/bench/linux \
//	    --disk build/bench/disk.img [--mode full|smoke] [--runs 3] [--smp 2] [--mem 512M]
//
// It boots the two guests alternately (Damselfly, Linux, Damselfly, ...) in
// the same QEMU (-M microvm, same vCPUs, memory, disk image and network) and
// measures on each boot: QEMU start to the first HTTP 200, wrk keep-alive
// req/s with p50/p99 latency, ab new-connection req/s, echo MB/s through
// port 7 and the guest's memory in use after boot; plus both image sizes.
// It prints a progress line per step, then the medians and the ratio
// Damselfly/Linux, and writes OUT/results.json and OUT/report.html.
//
// As root it puts the guests on a tap in a network namespace it makes and
// deletes; otherwise on QEMU user networking, with a warning: slirp's own
// TCP sits between the load generator and the guest, so the figures compare
// slirp paths, not the guests. Exit status 1 if any figure could not be
// measured (the report is written anyway), 2 on bad usage or setup.
package main

import (
	"context"
	"debug/elf"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"damselfly/qemu"
	"damselfly/qemu/bench"
)

// load is how hard each boot is measured.
type load struct {
	wrkFor    time.Duration
	abN       int
	echoBytes int
	bootLimit time.Duration // QEMU start to first 200
}

var loads = map[string]load{
	"full":  {wrkFor: 4 * time.Second, abN: 500, echoBytes: 16 << 20, bootLimit: 2 * time.Minute},
	"smoke": {wrkFor: 1 * time.Second, abN: 50, echoBytes: 1 << 20, bootLimit: 90 * time.Second},
	// echo: only the echo figure (echo.go).
	"echo": {echoBytes: 16 << 20, bootLimit: 2 * time.Minute},
}

type options struct {
	mode, kernel, linux, disk, out, mem, netMode, accel, command string
	runs, smp                                                    int
	echo                                                         echoOptions
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "full", "full, smoke (one short round that checks the harness works) or echo (only the echo figure, echo.go)")
	flag.IntVar(&o.echo.reps, "echo-reps", 3, "echo mode: exchanges per boot")
	flag.StringVar(&o.echo.guests, "guests", "", "echo mode: guests to boot, comma-separated (default damselfly,linux)")
	flag.BoolVar(&o.echo.pcap, "pcap", false, "echo mode: tcpdump the first exchange of each boot to OUT/echo-<guest>-<round>.pcap (tap only)")
	flag.IntVar(&o.echo.mib, "echo-mib", 16, "echo mode: MiB per exchange")
	flag.DurationVar(&o.echo.profile, "profile", 0, "echo mode: sample the guest's vCPUs through QEMU's gdbstub at this interval during the exchanges (e.g. 2ms) to OUT/echo-<guest>-<round>.prof")
	flag.IntVar(&o.runs, "runs", 3, "boots of each guest (full mode; smoke boots each once)")
	flag.StringVar(&o.kernel, "kernel", "build/kernel.elf", "Damselfly appliance image (make kernel)")
	flag.StringVar(&o.linux, "linux", "build/bench/linux", "directory with the Linux guest's vmlinuz, initrd.img and kernel-version")
	flag.StringVar(&o.disk, "disk", "build/bench/disk.img", "ext2 disk image both guests serve (make disk)")
	flag.StringVar(&o.out, "out", "build/bench", "directory for results.json, report.html and the serial logs")
	flag.IntVar(&o.smp, "smp", 2, "vCPUs of both guests")
	flag.StringVar(&o.mem, "mem", "512M", "memory of both guests")
	flag.StringVar(&o.netMode, "net", "auto", "tap (needs root), user, or auto (tap when root)")
	flag.StringVar(&o.accel, "accel", "auto", "auto (KVM when usable), kvm or tcg")
	flag.StringVar(&o.command, "command", "", "the command line to record in the report (default: this one)")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(2, "unexpected arguments %q", flag.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, o))
}

func fail(status int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	os.Exit(status)
}

func run(ctx context.Context, o options) int {
	ld, ok := loads[o.mode]
	if !ok {
		fail(2, "--mode %q: want full, smoke or echo", o.mode)
	}
	if o.mode == "smoke" {
		o.runs = 1
	}
	if o.runs < 1 {
		fail(2, "--runs %d: want at least 1", o.runs)
	}
	if o.command == "" {
		o.command = strings.Join(os.Args, " ")
	}
	vmlinuz, initrd := filepath.Join(o.linux, "vmlinuz"), filepath.Join(o.linux, "initrd.img")
	sizes := map[string]int64{}
	for _, f := range []string{o.kernel, vmlinuz, initrd, o.disk} {
		st, err := os.Stat(f)
		if err != nil {
			fail(2, "%v (make bench builds it)", err)
		}
		sizes[f] = st.Size()
	}
	for _, tool := range []string{"wrk", "ab", qemu.DefaultBinary} {
		if _, err := exec.LookPath(tool); err != nil {
			fail(2, "%s not installed (make deps installs it)", tool)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fail(2, "%v", err)
	}
	accel := qemu.AccelAuto
	switch o.accel {
	case "kvm":
		accel = qemu.AccelKVM
	case "tcg":
		accel = qemu.AccelTCG
	case "auto":
	default:
		fail(2, "--accel %q: want auto, kvm or tcg", o.accel)
	}
	resolved, note, err := qemu.ResolveAccel(accel, qemu.KVMUsable)
	if err != nil {
		fail(2, "%v", err)
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "bench: %s\n", note)
	}

	res := &bench.Results{Setup: bench.Setup{
		Mode: o.mode, Runs: o.runs, SMP: o.smp, Memory: o.mem, Command: o.command,
		Date: time.Now().UTC(), Accel: map[qemu.Accel]string{qemu.AccelKVM: "kvm", qemu.AccelTCG: "tcg"}[resolved],
	}}

	ram, err := qemu.ParseMemory(o.mem)
	if err != nil {
		fail(2, "--mem: %v", err)
	}
	span, err := loadSpan(o.kernel)
	if err != nil {
		fail(2, "%v", err)
	}

	// The network: a tap in a namespace of our own, or user networking.
	// From here on, errors return instead of calling fail, so that the
	// namespace is deleted.
	base := qemu.Config{SMP: o.smp, Memory: o.mem, Disks: []string{o.disk}, Accel: resolved, MAC: guestMAC}
	var t target
	var ns *netns
	var guestIP, guestGW string
	useTap := o.netMode == "tap" || (o.netMode == "auto" && os.Geteuid() == 0)
	switch {
	case o.netMode != "tap" && o.netMode != "user" && o.netMode != "auto":
		fail(2, "--net %q: want tap, user or auto", o.netMode)
	case useTap && os.Geteuid() != 0:
		fail(2, "--net tap needs root (network namespaces and taps)")
	case useTap:
		var err error
		ns, err = newNetns(fmt.Sprintf("dfly-bench-%d", os.Getpid()), o.out)
		if err != nil {
			fail(2, "network namespace: %v", err)
		}
		defer ns.close()
		base.Binary, base.Net, base.Tap = ns.wrapper, qemu.NetTap, "tap0"
		guestIP, guestGW = tapGuest, tapHost
		t = target{base: "http://" + tapGuest, echo: net.JoinHostPort(tapGuest, "7"), dial: ns.dial, command: ns.cmd}
		res.Setup.Net = "tap"
	default:
		httpPort, echoPort, err := freePorts()
		if err != nil {
			fail(2, "%v", err)
		}
		base.Net = qemu.NetUser
		base.HostFwd = []string{fmt.Sprintf("tcp:127.0.0.1:%d-:80", httpPort), fmt.Sprintf("tcp:127.0.0.1:%d-:7", echoPort)}
		guestIP, guestGW = userGuest, userGW
		var d net.Dialer
		t = target{
			base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), echo: fmt.Sprintf("127.0.0.1:%d", echoPort),
			dial: d.DialContext,
			command: func(ctx context.Context, args ...string) *exec.Cmd {
				return exec.CommandContext(ctx, args[0], args[1:]...)
			},
		}
		res.Setup.Net = "user"
		res.Setup.Warning = "user networking (not root, or --net user): QEMU's slirp terminates every TCP connection on the host side, " +
			"so these figures measure slirp as much as the guests and are not comparable with tap figures or between guests."
		fmt.Fprintf(os.Stderr, "bench: warning: %s\n", res.Setup.Warning)
	}

	// Under TCG, Linux calibrates its TSC against the PIT and, on a busy
	// host, fails ("Unable to calibrate against PIT"; microvm has no HPET
	// or PM timer to fall back on) and then hangs in early boot. Its TSC is
	// the host's (TCG's RDTSC reads the host counter), so we tell it the
	// rate, and that the TSC is reliable (the watchdog compares it with
	// jiffies, which a descheduled vCPU loses). Damselfly calibrates
	// against the PIT itself.
	linuxClock := ""
	if resolved != qemu.AccelKVM {
		if khz := hostTSCkHz(); khz > 0 {
			linuxClock = fmt.Sprintf(" tsc_early_khz=%d tsc=reliable", khz)
		}
	}
	kver, _ := os.ReadFile(filepath.Join(o.linux, "kernel-version"))
	dmb := float64(sizes[o.kernel]) / 1e6
	lmb := float64(sizes[vmlinuz]+sizes[initrd]) / 1e6
	guests := []guest{
		{bench.Damselfly, withKernel(base, o.kernel, "", fmt.Sprintf("ip=%s/24,gw=%s root=/dev/vda ro", guestIP, guestGW)), dmb,
			func(m memory) uint64 { return span + dmaWindow + m.Sys }},
		{bench.Linux, withKernel(base, vmlinuz, initrd, fmt.Sprintf("console=ttyS0 quiet%s bench.ip=%s/24 bench.gw=%s", linuxClock, guestIP, guestGW)), lmb,
			func(m memory) uint64 {
				if m.GuestAvailable == nil || *m.GuestAvailable > ram {
					return 0
				}
				return ram - *m.GuestAvailable
			}},
	}
	// Paths in the notes are relative to the working directory when under it.
	cwd, _ := os.Getwd()
	rel := func(p string) string {
		if r, err := filepath.Rel(cwd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	res.Setup.Notes = []string{
		fmt.Sprintf("Damselfly: %s (%d bytes, %d bytes loaded), cmdline %q. Memory in use = the Go runtime's Sys from /status.json "+
			"(kernel.memory.sys: everything the runtime took above the image, heap, stacks and its metadata); memory taken adds the loaded image and the %d MiB DMA window.",
			rel(o.kernel), sizes[o.kernel], span, guests[0].cfg.Append, dmaWindow>>20),
		fmt.Sprintf("Linux: Debian %s (%s, %d bytes) with a busybox initramfs running httpd-linux (%s, %d bytes), cmdline %q. "+
			"Memory in use = MemTotal - MemAvailable from /proc/meminfo (kernel.memory.guest_in_use: not the kernel image or boot reservations, "+
			"but the unpacked initramfs, slab and page tables); memory taken = guest RAM - MemAvailable.",
			strings.TrimSpace(string(kver)), rel(vmlinuz), sizes[vmlinuz], rel(initrd), sizes[initrd], guests[1].cfg.Append),
		fmt.Sprintf("QEMU: -M microvm -smp %d -m %s, %s, %s networking, disk %s (%d bytes) on virtio-blk, virtio-net with MAC %s.",
			o.smp, o.mem, res.Setup.Accel, res.Setup.Net, rel(o.disk), sizes[o.disk], guestMAC),
		fmt.Sprintf("Load, from the host: %s; %s; echo of %d bytes through port 7, checked; boot time = QEMU start to the first GET / answered 200 (probes every %v). "+
			"An untimed boot of %s (selftest=wake poweroff) precedes the first measured boot, so that it too follows a QEMU that has just ended, as every later boot does.",
			strings.Join(wrkArgs(t, ld.wrkFor), " "), strings.Join(abArgs(t, ld.abN), " "), ld.echoBytes, probeEvery, guests[0].name),
	}

	if o.mode == "echo" {
		ld.echoBytes = o.echo.mib << 20
		return runEcho(ctx, o, guests, t, ns, ld)
	}

	loadStart := loadAvg()
	warmUp(ctx, guests[0])
	total := 2 * o.runs
	step := 0
	for round := 1; round <= o.runs; round++ {
		for _, g := range guests {
			step++
			prefix := fmt.Sprintf("bench: [%d/%d] %s round %d", step, total, g.name, round)
			r := bench.Run{Guest: g.name, Round: round}
			r.Set("image_mb", g.mb)
			logPath := filepath.Join(o.out, fmt.Sprintf("serial-%s-%d.log", g.name, round))
			measure(ctx, g, t, ld, logPath, prefix, &r)
			res.Runs = append(res.Runs, r)
			fmt.Fprintf(os.Stderr, "%s: %s\n", prefix, summarize(r))
			if ctx.Err() != nil {
				fmt.Fprintln(os.Stderr, "bench: interrupted")
				return 2
			}
		}
	}

	res.Setup.Notes = append(res.Setup.Notes, fmt.Sprintf("Host: %d CPUs, 1-minute load average %s at the start and %s at the end (other jobs share the machine).",
		runtime.NumCPU(), loadStart, loadAvg()))
	status := 0
	if b, err := res.JSON(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		status = 1
	} else if err := os.WriteFile(filepath.Join(o.out, "results.json"), b, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		status = 1
	}
	if f, err := os.Create(filepath.Join(o.out, "report.html")); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		status = 1
	} else {
		if err := res.HTML(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			status = 1
		}
		f.Close()
	}
	fmt.Println()
	res.Table(os.Stdout)
	fmt.Printf("\n%s\n", res.Setup.Notes[len(res.Setup.Notes)-1])
	if res.Setup.Warning != "" {
		fmt.Printf("\nwarning: %s\n", res.Setup.Warning)
	}
	fmt.Printf("\nbench: wrote %s and %s\n", filepath.Join(o.out, "report.html"), filepath.Join(o.out, "results.json"))
	if miss := res.Missing(); len(miss) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d figures could not be measured: %s\n", len(miss), strings.Join(miss, "; "))
		for _, r := range res.Runs {
			for _, e := range r.Errors {
				fmt.Fprintf(os.Stderr, "bench: %s run %d: %s\n", r.Guest, r.Round, e)
			}
		}
		status = 1
	}
	if status == 0 && o.mode == "smoke" {
		fmt.Println("bench: smoke ok (every figure measured on both guests; the figures themselves are not checked)")
	}
	return status
}

func withKernel(c qemu.Config, kernel, initrd, cmdline string) qemu.Config {
	c.Kernel, c.Initrd, c.Append = kernel, initrd, cmdline
	c.Disks = append([]string(nil), c.Disks...)
	return c
}

// guest is one of the two compared systems.
type guest struct {
	name string
	cfg  qemu.Config
	mb   float64 // image size, 10^6 bytes
	// taken is the guest memory taken, image included, from its status
	// (0: unknown).
	taken func(memory) uint64
}

// dmaWindow is the DMA region Damselfly reserves above its heap on microvm
// (board/microvm/mem_amd64.go, dmaSize): virtqueues and buffers live there.
const dmaWindow = 16 << 20

// loadSpan is how much RAM an ELF image occupies once loaded: from its
// lowest loadable segment to the end of its highest (bss included).
func loadSpan(path string) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", path, err)
	}
	defer f.Close()
	lo, hi := ^uint64(0), uint64(0)
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		lo, hi = min(lo, p.Vaddr), max(hi, p.Vaddr+p.Memsz)
	}
	if hi <= lo {
		return 0, fmt.Errorf("image %s: no loadable segments", path)
	}
	return hi - lo, nil
}

// measure boots one guest, takes every per-boot figure and stops it.
func measure(ctx context.Context, g guest, t target, ld load, logPath, prefix string, r *bench.Run) {
	cfg := g.cfg
	progress := func(what string) { fmt.Fprintf(os.Stderr, "%s: %s\n", prefix, what) }
	progress("booting")
	// Both servers print "<name>: appliance up" once they listen: the
	// console's view of the boot, next to the network's (boot_ms).
	up := make(chan time.Duration, 1)
	onLine := func(elapsed time.Duration, line string) {
		if strings.Contains(line, ": appliance up") {
			select {
			case up <- elapsed:
			default:
			}
		}
	}
	start := time.Now()
	vm, err := qemu.Start(ctx, cfg, qemu.Options{SerialLog: logPath, OnLine: onLine, Timeout: ld.bootLimit + 5*time.Minute})
	if err != nil {
		r.Errorf("boot: %v", err)
		return
	}
	defer func() {
		vm.Kill()
		vm.Wait()
	}()
	boot, err := waitHTTP(ctx, t, start, ld.bootLimit)
	if err != nil {
		r.Errorf("boot: %v (console in %s)", err, logPath)
		return
	}
	r.Set("boot_ms", float64(boot.Microseconds())/1e3)
	select {
	case d := <-up:
		r.Set("up_ms", float64(d.Microseconds())/1e3)
	case <-time.After(5 * time.Second): // the line comes before the server answers
		r.Errorf("no \"appliance up\" line on the console")
	}

	if m, err := fetchMemory(ctx, t); err != nil {
		r.Errorf("memory: %v", err)
	} else {
		used := m.Sys
		if m.GuestInUse != nil {
			used = *m.GuestInUse
		}
		r.Set("mem_mib", float64(used)/(1<<20))
		if taken := g.taken(m); taken > 0 {
			r.Set("footprint_mib", float64(taken)/(1<<20))
		} else {
			r.Errorf("memory: cannot tell the memory taken")
		}
		r.Set("go_sys_mib", float64(m.Sys)/(1<<20))
		r.Set("go_heap_alloc_mib", float64(m.HeapAlloc)/(1<<20))
	}

	progress(fmt.Sprintf("boot %.0f ms; wrk for %v", r.Values["boot_ms"], ld.wrkFor))
	if w, err := runWrk(ctx, t, ld.wrkFor); err != nil {
		r.Errorf("wrk: %v", err)
	} else {
		r.Set("wrk_rps", w.RequestsPerSec)
		r.Set("wrk_p50_ms", float64(w.P50.Microseconds())/1e3)
		r.Set("wrk_p99_ms", float64(w.P99.Microseconds())/1e3)
		if len(w.Errors) > 0 {
			r.Errorf("wrk reported %s", strings.Join(w.Errors, "; "))
		}
	}

	progress(fmt.Sprintf("ab -n %d", ld.abN))
	if a, err := runAb(ctx, t, ld.abN); err != nil {
		r.Errorf("ab: %v", err)
	} else {
		r.Set("ab_rps", a.RequestsPerSec)
		if a.Failed > 0 || a.Non2xx > 0 {
			r.Errorf("ab reported %d failed requests, %d non-2xx responses", a.Failed, a.Non2xx)
		}
	}

	progress(fmt.Sprintf("echo %d MiB", ld.echoBytes>>20))
	if mbps, err := echoMBps(ctx, t, ld.echoBytes); err != nil {
		r.Errorf("%v", err)
	} else {
		r.Set("echo_mbps", mbps)
	}
}

// summarize is a run's figures on one line.
func summarize(r bench.Run) string {
	var parts []string
	for _, m := range bench.Metrics {
		if v, ok := r.Values[m.ID]; ok {
			parts = append(parts, fmt.Sprintf("%s %s %s", m.ID, bench.FormatValue(v), m.Unit))
		}
	}
	if len(r.Errors) > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", len(r.Errors)))
	}
	return strings.Join(parts, ", ")
}

// loadAvg is the host's 1-minute load average, "?" if unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// freePorts picks two unused host ports for user networking's forwards.
func freePorts() (int, int, error) {
	var ports [2]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}
