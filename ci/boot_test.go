package ci

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"damselfly/qemu"
)

// The boot tests build the default kernel once and boot it in QEMU microvm
// over a matrix of vCPU counts and memory sizes. Without the toolchain or
// QEMU they are skipped, unless DAMSELFLY_REQUIRE_QEMU=1 (make test-boot),
// in which case they fail.

var (
	kernelOnce sync.Once
	kernelPath string
	kernelErr  error
	skipReason string
)

func kernel(t *testing.T) string {
	t.Helper()
	kernelOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			kernelErr = err
			return
		}
		if p := os.Getenv("DAMSELFLY_KERNEL"); p != "" {
			kernelPath = p
			return
		}
		if _, err := os.Stat(filepath.Join(root, KernelBuild[0])); err != nil {
			skipReason = "no GOOS=tamago toolchain at toolchain/go"
			return
		}
		if _, err := exec.LookPath(qemu.DefaultBinary); err != nil {
			skipReason = "no " + qemu.DefaultBinary + " on PATH (ci/deps.sh installs it)"
			return
		}
		dir, err := os.MkdirTemp("", "damselfly-ci-")
		if err != nil {
			kernelErr = err
			return
		}
		kernelPath = filepath.Join(dir, "kernel.elf")
		kernelErr = BuildKernel(root, "./kernel/cmd/damselfly", kernelPath)
	})
	if skipReason != "" {
		if os.Getenv("DAMSELFLY_REQUIRE_QEMU") == "1" {
			t.Fatalf("boot tests required (DAMSELFLY_REQUIRE_QEMU=1) but: %s", skipReason)
		}
		t.Skipf("skipping QEMU boot test: %s (set DAMSELFLY_REQUIRE_QEMU=1 to make this a failure)", skipReason)
	}
	if kernelErr != nil {
		t.Fatal(kernelErr)
	}
	return kernelPath
}

// vmSlots bounds how many VMs this process runs at once: the machines these
// tests run on have 2 cores, and a starved vCPU makes timing self-tests
// measure the host. DAMSELFLY_VMS sets the bound (default 2).
var vmSlots = make(chan struct{}, vmBound())

func vmBound() int {
	if n, err := strconv.Atoi(os.Getenv("DAMSELFLY_VMS")); err == nil && n > 0 {
		return n
	}
	return 2
}

// make test-boot runs TestBootBlk (its 5 GiB disk takes minutes) in a go
// test process of its own beside this one, so that it overlaps the other
// tests instead of starting after them (go test starts top-level parallel
// tests only once the sequential ones are done). That process runs one VM
// at a time and, while it lives, holds the lock on the file named by
// DAMSELFLY_VMS_SHARED_LOCK (the Makefile takes it before either process
// starts). Meanwhile one of this process's slots is reserved for it; the
// reservation is dropped at the first VM's end that finds the lock free.
// So the machine runs at most vmBound() VMs between the two processes.
//
// sharer is written under its mutex by acquireVM and the VMs' cleanups.
var sharer struct {
	sync.Mutex
	checked  bool // the first acquireVM looked at the lock
	reserved bool // one vmSlots token is held for the other process
}

// sharedLockFree reports whether the other process has let go of the lock
// file at path (or there is none). The probe's own lock ends with its
// file's close.
func sharedLockFree(path string) bool {
	if path == "" {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return true // no file: nobody to share with
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

func acquireVM(t *testing.T) {
	sharer.Lock()
	if !sharer.checked {
		sharer.checked = true
		// A bound of 1 is not shared: that would leave no slot at all.
		if cap(vmSlots) > 1 && !sharedLockFree(os.Getenv("DAMSELFLY_VMS_SHARED_LOCK")) {
			vmSlots <- struct{}{}
			sharer.reserved = true
			t.Logf("another go test process runs VMs beside this one: %d VM(s) at a time here until it ends", cap(vmSlots)-1)
		}
	}
	sharer.Unlock()
	vmSlots <- struct{}{}
	t.Cleanup(func() {
		<-vmSlots
		sharer.Lock()
		if sharer.reserved && sharedLockFree(os.Getenv("DAMSELFLY_VMS_SHARED_LOCK")) {
			sharer.reserved = false
			<-vmSlots
		}
		sharer.Unlock()
	})
}

// boot runs one VM and returns its console and result.
func boot(t *testing.T, cfg qemu.Config, timeout time.Duration) (string, qemu.Result, error) {
	t.Helper()
	if cfg.Kernel == "" {
		cfg.Kernel = kernel(t)
	}
	acquireVM(t)
	log := filepath.Join(t.TempDir(), "serial.log")
	res, err := qemu.Run(context.Background(), cfg, qemu.Options{SerialLog: log, Timeout: timeout})
	out, _ := os.ReadFile(log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console (-smp %d -m %s -append %q):\n%s", cfg.SMP, cfg.Memory, cfg.Append, out)
		}
	})
	return string(out), res, err
}

// The lock make test-boot shares between its two go test processes: held
// by another open file (another process, or here another open of the same
// file), it is not free; closed, it is.
func TestVMSharedLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blk.lock")
	if !sharedLockFree(path) || !sharedLockFree("") {
		t.Fatal("no lock file: want free")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if sharedLockFree(path) {
		t.Fatal("lock held: want not free")
	}
	f.Close()
	if !sharedLockFree(path) {
		t.Fatal("holder closed: want free")
	}
}

var readyRE = regexp.MustCompile(`(?m)^damselfly: ready cpus=(\d+)/(\d+) mem=(\d+)MiB boot_ms=(\d+)\r?$`)

func TestBootMatrix(t *testing.T) {
	for _, smp := range []int{1, 2, 4} {
		for _, mem := range []string{"256M", "2G"} {
			smp, mem := smp, mem
			t.Run(fmt.Sprintf("smp%d-%s", smp, mem), func(t *testing.T) {
				t.Parallel()
				out, res, err := boot(t, qemu.Config{SMP: smp, Memory: mem, Append: "selftest=time,smp poweroff"}, 90*time.Second)
				if err != nil {
					t.Fatalf("%v (status %d)", err, res.Status)
				}
				m := readyRE.FindAllStringSubmatch(out, -1)
				if len(m) != 1 {
					t.Fatalf("want exactly one ready line, got %d", len(m))
				}
				want := fmt.Sprint(smp)
				if m[0][1] != want || m[0][2] != want {
					t.Errorf("ready line %q: want cpus=%d/%d", m[0][0], smp, smp)
				}
				memBytes, _ := qemu.ParseMemory(mem)
				var mib uint64
				fmt.Sscan(m[0][3], &mib)
				// usable RAM is the VM's size less firmware and ACPI areas
				if mib > memBytes>>20 || mib < memBytes>>20*9/10 {
					t.Errorf("ready line reports %d MiB for a %s VM", mib, mem)
				}
				for _, name := range []string{"time", "smp"} {
					if !strings.Contains(out, "selftest "+name+": ok") {
						t.Errorf("no %q", "selftest "+name+": ok")
					}
				}
				// the smp self-test names every CPU's LAPIC id and XCR0 (it fails if an
				// AP's differs from the boot CPU's)
				for i := 0; i < smp; i++ {
					if !regexp.MustCompile(fmt.Sprintf(`(?m)smp: cpu%d lapic %d `, i, i)).MatchString(out) {
						t.Errorf("smp self-test did not report cpu%d", i)
					}
				}
				// -cpu max offers XSAVE and, from QEMU 7.2 under TCG, AVX: the board
				// enables both (board/microvm/xsave_amd64.s)
				if !strings.Contains(out, "cpu state: xcr0 0x7 (x87 sse avx)\n") {
					t.Errorf("banner does not report the AVX state enabled (want \"cpu state: xcr0 0x7 (x87 sse avx)\")")
				}
				if res.Status != qemu.StatusSuccess {
					t.Errorf("status %d, want %d", res.Status, qemu.StatusSuccess)
				}
			})
		}
	}
}

var bannerMemRE = regexp.MustCompile(`(?m)^memory: (\d+) MiB usable, heap (\d+) MiB\r?$`)

// TestBootHighMemory boots a 6 GiB VM, whose RAM QEMU splits around the
// 3-4 GiB device window: the heap must count the RAM above 4 GiB and use it
// (selftest=highmem allocates until a chunk lies there and writes it).
func TestBootHighMemory(t *testing.T) {
	t.Parallel()
	out, res, err := boot(t, qemu.Config{SMP: 2, Memory: "6G", Append: "selftest=highmem poweroff"}, 90*time.Second)
	if err != nil {
		t.Fatalf("%v (status %d)", err, res.Status)
	}
	m := bannerMemRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no memory line in the banner")
	}
	var usable, heap uint64
	fmt.Sscan(m[1], &usable)
	fmt.Sscan(m[2], &heap)
	// below the hole at most 3 GiB; the heap is the RAM less firmware,
	// image, DMA window and the map below 16 MiB
	if heap < 5<<10 || heap > usable {
		t.Errorf("banner: %d MiB usable, heap %d MiB: want a heap over 5 GiB", usable, heap)
	}
	if !strings.Contains(out, "selftest highmem: ok") {
		t.Error("no \"selftest highmem: ok\"")
	}
	if !strings.Contains(out, "info: memory: heap [0x1000000-") {
		t.Error("no log line naming the heap's extra RAM")
	}
}

// TestBootTCGMulti boots with one host thread per vCPU.
func TestBootTCGMulti(t *testing.T) {
	t.Parallel()
	out, res, err := boot(t, qemu.Config{SMP: 4, Memory: "512M", Accel: qemu.AccelTCGMulti, Append: "selftest=smp poweroff"}, 90*time.Second)
	if err != nil {
		t.Fatalf("%v (status %d)", err, res.Status)
	}
	if m := readyRE.FindStringSubmatch(out); m == nil || m[1] != "4" || m[2] != "4" {
		t.Errorf("ready line %q, want cpus=4/4", m)
	}
}

func TestBootBadCmdline(t *testing.T) {
	t.Parallel()
	out, res, err := boot(t, qemu.Config{Append: "selftest=time bogus=1 poweroff"}, 60*time.Second)
	if res.Status != qemu.StatusFailure {
		t.Fatalf("status %d (%v), want %d", res.Status, err, qemu.StatusFailure)
	}
	for _, s := range []string{`option "bogus=1"`, "unknown option", "accepted forms:", "selftest=<name>[,<name>...]"} {
		if !strings.Contains(out, s) {
			t.Errorf("console lacks %q", s)
		}
	}
	if readyRE.MatchString(out) {
		t.Error("kernel became ready despite a bad option")
	}
}

func TestBootFault(t *testing.T) {
	t.Parallel()
	out, res, err := boot(t, qemu.Config{Append: "selftest=fault poweroff"}, 60*time.Second)
	if res.Status != qemu.StatusFailure {
		t.Fatalf("status %d (%v), want %d", res.Status, err, qemu.StatusFailure)
	}
	for _, re := range []string{
		`panic: cpu exception 14: #PF page fault on cpu \d+`,
		`fault address: 0x00000dead0000000 \(cr2\)`,
		`(?m)^rax +0x[0-9a-f]{16}`,
		`(?m)^rflags +0x[0-9a-f]{16}`,
		`(?m)^=> 0x[0-9a-f]{16} +[0-9a-f]+ +MOV`, // the faulting instruction, disassembled
		`goroutine \d+ \[running\]:`,
		`damselfly/kernel\.faultSelfTest`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("panic report lacks %s", re)
		}
	}
}

// TestBootPowerButton presses the ACPI power button over QMP and expects a
// graceful shutdown with the success status.
func TestBootPowerButton(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	acquireVM(t)
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	ready := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var console strings.Builder
	vm, err := qemu.Start(context.Background(), qemu.Config{Kernel: k, QMP: sock, SMP: 2, Append: "shell"}, qemu.Options{
		Timeout: 90 * time.Second,
		OnLine: func(_ time.Duration, l string) {
			mu.Lock()
			console.WriteString(l + "\n")
			mu.Unlock()
			if readyRE.MatchString(l) {
				once.Do(func() { close(ready) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		vm.Kill()
		vm.Wait()
		t.Fatalf("no ready line:\n%s", console.String())
	}
	if err := vm.PowerButton(); err != nil {
		t.Fatal(err)
	}
	res, err := vm.Wait()
	mu.Lock()
	out := console.String()
	mu.Unlock()
	if err != nil {
		t.Fatalf("%v (status %d):\n%s", err, res.Status, out)
	}
	if !strings.Contains(out, "power button") {
		t.Errorf("no shutdown message:\n%s", out)
	}
}

// TestBootTime measures QEMU start to the ready line over several boots and
// logs the median (docs/boot.md records it).
func TestBootTime(t *testing.T) {
	if testing.Short() {
		t.Skip("boot time measurement skipped in -short mode")
	}
	k := kernel(t)
	acquireVM(t)
	var times []time.Duration
	for i := 0; i < 5; i++ {
		var at time.Duration
		res, err := qemu.Run(context.Background(), qemu.Config{Kernel: k, Append: "poweroff", SMP: 1, Memory: "256M"}, qemu.Options{
			Timeout: 60 * time.Second,
			OnLine: func(d time.Duration, l string) {
				if at == 0 && readyRE.MatchString(l) {
					at = d
				}
			},
		})
		if err != nil || at == 0 {
			t.Fatalf("boot %d: %v (status %d), ready at %v", i, err, res.Status, at)
		}
		times = append(times, at)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("QEMU start to ready, -M microvm -smp 1 -m 256M, TCG: median %v over %d boots (min %v, max %v)",
		times[len(times)/2].Round(time.Millisecond), len(times), times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
}
