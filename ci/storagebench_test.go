package ci

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"damselfly/qemu"
	"damselfly/qemu/linuxguest/storagebench/workload"
)

// Storage benchmarks in the guest (issues 5 and 6): selftest=blkbench and
// selftest=fsbench, and the same workloads in the Debian comparison guest
// (qemu/linuxguest/storagebench). TestBootStorageBench only checks that the
// self-tests run and print their figures, on small disks, untimed;
// TestStorageBench (DAMSELFLY_BENCH=1, make bench-storage) measures both
// guests under the same QEMU and writes the side-by-side table.

var (
	blkBenchNames = []string{"seq-write", "seq-read", "rand-write", "rand-read", "rand-write-qd8", "rand-read-qd8", "buf-seq-write", "buf-seq-read"}
	fsBenchNames  = []string{"write", "read-cold", "read-warm", "create", "stat", "remove"}
)

// benchFigures collects the console's figure lines with the given prefix,
// by name, and fails on a duplicate.
func benchFigures(t *testing.T, out, prefix string) map[string]workload.Parsed {
	t.Helper()
	m := map[string]workload.Parsed{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		p, ok := workload.ParseLine(sc.Text())
		if !ok || p.Prefix != prefix {
			continue
		}
		if _, dup := m[p.Name]; dup {
			t.Fatalf("figure %s printed twice", p.Name)
		}
		m[p.Name] = p
	}
	return m
}

// checkFigures checks that exactly the expected figures were printed, each
// with a time and the byte count the shared sizing rule gives.
func checkFigures(t *testing.T, got map[string]workload.Parsed, names []string, bytes func(name string) int64) {
	t.Helper()
	for _, n := range names {
		p, ok := got[n]
		if !ok {
			t.Errorf("no %s figure", n)
			continue
		}
		if p.Ms <= 0 || p.IOPS <= 0 {
			t.Errorf("%s: not timed: %+v", n, p)
		}
		if want := bytes(n); p.Bytes != want {
			t.Errorf("%s: bytes=%d, want %d", n, p.Bytes, want)
		}
	}
	if len(got) != len(names) {
		t.Errorf("%d figures, want %d: %v", len(got), len(names), got)
	}
}

// blkBenchBytes is what each block figure moves on a disk of size bytes.
func blkBenchBytes(size int64) func(string) int64 {
	c := workload.Sizes(size)
	return func(name string) int64 {
		if strings.HasPrefix(name, "rand-") {
			return int64(c.RandOps) * workload.Block
		}
		return c.Region
	}
}

// fsBenchBytes is what each file figure moves on a disk of size bytes.
func fsBenchBytes(size int64) func(string) int64 {
	c := workload.FSSizes(size)
	return func(name string) int64 {
		switch name {
		case "write", "read-cold", "read-warm":
			return c.FileSize
		case "create":
			return int64(c.MetaFiles * c.MetaSize)
		}
		return 0
	}
}

// TestBootStorageBench runs selftest=blkbench on a 16 MiB scratch disk and
// selftest=fsbench on a 32 MiB ext2 disk (4 KiB blocks): every figure is
// printed with the expected byte count; afterwards every block of the
// scratch disk carries the header of the last write to its own offset, and
// the ext2 image is clean for e2fsck with the benchmark's files gone.
func TestBootStorageBench(t *testing.T) {
	t.Run("blkbench", func(t *testing.T) {
		t.Parallel()
		const size = 16 << 20
		img := filepath.Join(t.TempDir(), "scratch.img")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, size); err != nil {
			t.Fatal(err)
		}
		out, res, err := boot(t, qemu.Config{SMP: 2, Memory: "512M", Disks: []string{img}, Append: "selftest=blkbench poweroff"}, 300*time.Second)
		if err != nil {
			t.Fatalf("%v (status %d)", err, res.Status)
		}
		if !strings.Contains(out, "selftest blkbench: ok") {
			t.Fatal("no selftest blkbench: ok line")
		}
		checkFigures(t, benchFigures(t, out, "blkbench"), blkBenchNames, blkBenchBytes(size))
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		// The last pass (buf-seq-write) rewrote the whole region through
		// the VM object and synced it.
		for off := int64(0); off < workload.Sizes(size).Region; off += workload.Block {
			if tag, ok := workload.Check(b[off:], off); !ok || tag != workload.TagBuf {
				t.Fatalf("image block at %d: tag %q ok %v", off, tag, ok)
			}
		}
	})
	t.Run("fsbench", func(t *testing.T) {
		t.Parallel()
		needE2fsprogs(t)
		const size = 32 << 20
		img := filepath.Join(t.TempDir(), "root.img")
		mkext2(t, img, "4096", "32M", "")
		out, res, err := boot(t, qemu.Config{SMP: 2, Memory: "512M", Disks: []string{img}, Append: "root=/dev/vda rw selftest=fsbench poweroff"}, 300*time.Second)
		if err != nil {
			t.Fatalf("%v (status %d)", err, res.Status)
		}
		if !strings.Contains(out, "selftest fsbench: ok") {
			t.Fatal("no selftest fsbench: ok line")
		}
		checkFigures(t, benchFigures(t, out, "fsbench"), fsBenchNames, fsBenchBytes(size))
		if b, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
			t.Fatalf("e2fsck -fn: %v\n%s", err, b)
		}
		ls, err := exec.Command("debugfs", "-R", "ls -l /", img).CombinedOutput()
		if err != nil {
			t.Fatalf("debugfs: %v\n%s", err, ls)
		}
		if strings.Contains(string(ls), "fsbench") {
			t.Fatalf("fsbench directory left on the disk:\n%s", ls)
		}
	})
}

// linuxStorageGuest builds the Debian guest with storagebench as its init
// program (qemu/linuxguest/build.sh --modules --add --init) into dir.
func linuxStorageGuest(t *testing.T, root, dir string) (vmlinuz, initrd string) {
	t.Helper()
	bin := filepath.Join(dir, "storagebench")
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(gocmd, "build", "-trimpath", "-o", bin, "./qemu/linuxguest/storagebench")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building storagebench: %v\n%s", err, out)
	}
	guest := exec.Command("bash", "qemu/linuxguest/build.sh",
		"--modules", "virtio_mmio virtio_blk",
		"--add", bin+":/bin/storagebench",
		"--init", "qemu/linuxguest/storagebench/init.sh", dir)
	guest.Dir = root
	if out, err := guest.CombinedOutput(); err != nil {
		t.Fatalf("qemu/linuxguest/build.sh: %v\n%s", err, out)
	}
	return filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
}

// hostTSCkHz reads the host's TSC rate from /proc/cpuinfo ("cpu MHz"), or
// returns 0. Under TCG the guest's TSC is the host's, and the cloud kernel
// cannot calibrate it on a loaded host (no HPET on microvm, and the PIT
// calibration fails), after which it waits forever for timer ticks; given
// the rate (tsc_early_khz, tsc=reliable) it boots.
func hostTSCkHz() int64 {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil && mhz > 0 {
				return int64(mhz * 1000)
			}
		}
	}
	return 0
}

// benchRun is one guest's figures of one run.
type benchRun map[string]workload.Parsed

// TestStorageBench (DAMSELFLY_BENCH=1) runs the block and file workloads in
// Damselfly and in the Debian guest, alternately (D L D L ...), each on a
// fresh disk image of DAMSELFLY_BENCH_DISK bytes (default 1 GiB: a sparse
// scratch image for the block figures, mke2fs -t ext2 -b 4096 for the file
// figures), DAMSELFLY_BENCH_RUNS times (default 3), with the same QEMU
// command (-M microvm -smp 2 -m 512M, KVM when usable, else TCG with one
// thread per vCPU). It prints a table of medians and writes it, with the
// QEMU commands, to DAMSELFLY_BENCH_OUT if set.
func TestStorageBench(t *testing.T) {
	if os.Getenv("DAMSELFLY_BENCH") != "1" {
		t.Skip("storage benchmark: set DAMSELFLY_BENCH=1 (make bench-storage)")
	}
	for _, tool := range []string{"mke2fs", "apt-get", "dpkg", "cpio"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (ci/deps.sh)", tool)
		}
	}
	kern := kernel(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	runs, size := 3, int64(1<<30)
	if v := os.Getenv("DAMSELFLY_BENCH_RUNS"); v != "" {
		if runs, err = strconv.Atoi(v); err != nil || runs < 1 {
			t.Fatalf("DAMSELFLY_BENCH_RUNS=%q", v)
		}
	}
	if v := os.Getenv("DAMSELFLY_BENCH_DISK"); v != "" {
		if size, err = strconv.ParseInt(v, 10, 64); err != nil || size < 16<<20 {
			t.Fatalf("DAMSELFLY_BENCH_DISK=%q (bytes, at least 16 MiB)", v)
		}
	}
	dir := t.TempDir()
	vmlinuz, initrd := linuxStorageGuest(t, root, dir)
	accel := qemu.AccelTCGMulti
	if qemu.KVMUsable() == nil {
		accel = qemu.AccelKVM
	}
	linuxArgs := "console=ttyS0 quiet"
	if khz := hostTSCkHz(); khz > 0 && accel != qemu.AccelKVM {
		linuxArgs += fmt.Sprintf(" tsc_early_khz=%d tsc=reliable", khz)
	}

	type guest struct {
		name  string
		cfg   func(mode, img string) qemu.Config
		done  func(mode string) string // the line that ends a good run
		kind  string
		lines map[string][]benchRun // by mode
	}
	base := func(img string) qemu.Config {
		return qemu.Config{SMP: 2, Memory: "512M", Disks: []string{img}, Accel: accel}
	}
	guests := []*guest{
		{name: "damselfly", cfg: func(mode, img string) qemu.Config {
			c := base(img)
			c.Kernel = kern
			c.Append = "selftest=" + mode + "bench poweroff"
			if mode == "fs" {
				c.Append = "root=/dev/vda rw " + c.Append
			}
			return c
		}, done: func(mode string) string { return "selftest " + mode + "bench: ok" }},
		{name: "linux", cfg: func(mode, img string) qemu.Config {
			c := base(img)
			c.Kernel = vmlinuz
			c.Extra = []string{"-initrd", initrd}
			c.Append = linuxArgs + " storagebench=" + mode
			return c
		}, done: func(mode string) string { return "storagebench " + mode + ": ok" }},
	}
	var commands []string
	for _, g := range guests {
		g.lines = map[string][]benchRun{}
		for _, mode := range []string{"blk", "fs"} {
			c := g.cfg(mode, "DISK.img")
			args, err := c.Args(accel)
			if err != nil {
				t.Fatal(err)
			}
			commands = append(commands, fmt.Sprintf("%s %s: %s %s", g.name, mode, qemu.DefaultBinary, strings.Join(args, " ")))
		}
	}
	makeDisk := func(mode string) string {
		img := filepath.Join(dir, mode+".img")
		os.Remove(img)
		if mode == "fs" {
			mkext2(t, img, "4096", fmt.Sprintf("%dk", size>>10), "")
			return img
		}
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, size); err != nil {
			t.Fatal(err)
		}
		return img
	}
	for run := 1; run <= runs; run++ {
		for _, mode := range []string{"blk", "fs"} {
			for _, g := range guests {
				cfg := g.cfg(mode, makeDisk(mode))
				log := filepath.Join(dir, "serial.log")
				vmSlots <- struct{}{} // one VM at a time here; the slot bounds other tests' VMs
				res, err := qemu.Run(context.Background(), cfg, qemu.Options{SerialLog: log, Timeout: 15 * time.Minute})
				<-vmSlots
				b, _ := os.ReadFile(log)
				out := string(b)
				// Linux powers off without isa-debug-exit (status 0); its
				// verdict is its ok line.
				if !strings.Contains(out, g.done(mode)) || (err != nil && res.Verdict != qemu.GuestReset) {
					t.Fatalf("%s %s run %d: %v (status %d)\n%s", g.name, mode, run, err, res.Status, out)
				}
				figs := benchFigures(t, out, mode+"bench")
				names, bytes := blkBenchNames, blkBenchBytes(size)
				if mode == "fs" {
					names, bytes = fsBenchNames, fsBenchBytes(size)
				}
				checkFigures(t, figs, names, bytes)
				g.lines[mode] = append(g.lines[mode], figs)
				t.Logf("run %d %s %s: done in %v", run, g.name, mode, res.Duration.Round(time.Millisecond))
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Storage figures, %s, median of %d alternating runs, disk %d MiB, QEMU %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runs, size>>20, qemuVersion())
	for _, mode := range []string{"blk", "fs"} {
		names := blkBenchNames
		if mode == "fs" {
			names = fsBenchNames
		}
		fmt.Fprintf(&b, "| %sbench figure | Damselfly MB/s | Damselfly ops/s (min–max) | Linux MB/s | Linux ops/s (min–max) | Damselfly/Linux |\n", mode)
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, n := range names {
			dm, di, dlo, dhi := medians(guests[0].lines[mode], n)
			lm, li, llo, lhi := medians(guests[1].lines[mode], n)
			ratio := "-"
			if li > 0 {
				ratio = fmt.Sprintf("%.2f", di/li)
			}
			fmt.Fprintf(&b, "| %s | %.1f | %.0f (%.0f–%.0f) | %.1f | %.0f (%.0f–%.0f) | %s |\n", n, dm, di, dlo, dhi, lm, li, llo, lhi, ratio)
		}
		b.WriteString("\n")
	}
	b.WriteString("Commands (DISK.img: a fresh image per run):\n\n")
	for _, c := range commands {
		b.WriteString("    " + c + "\n")
	}
	t.Logf("\n%s", b.String())
	if p := os.Getenv("DAMSELFLY_BENCH_OUT"); p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// medians returns the median MB/s and ops/s of figure name over runs, and
// the lowest and highest ops/s (for fixed-size requests, the spread of
// both).
func medians(runs []benchRun, name string) (mbps, iops, lo, hi float64) {
	var m, o []float64
	for _, r := range runs {
		if p, ok := r[name]; ok {
			m, o = append(m, p.MBps), append(o, p.IOPS)
		}
	}
	if len(o) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(m)
	slices.Sort(o)
	return m[len(m)/2], o[len(o)/2], o[0], o[len(o)-1]
}

func qemuVersion() string {
	out, err := exec.Command(qemu.DefaultBinary, "--version").Output()
	if err != nil {
		return "(unknown version)"
	}
	l, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(l, "QEMU emulator version ")
}
