// The boot sequence on the machine: command line, log, banner, ready line,
// self-tests, power button, shell, application.

//go:build tamago && amd64

package kernel

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"damselfly/board"
	"damselfly/board/microvm"
	"damselfly/sched"
)

// Klog is the kernel log on the serial console; set by Run before anything
// else runs, read-only afterwards.
var Klog = NewLog(os.Stdout, func() int64 { return int64(microvm.Since()) }, board.LogInfo)

// Config is the parsed command line; set by Run.
var Config board.Config

// GC is the garbage collector's policy (GCPolicy), set by Run from the
// command line and the heap's size; read-only afterwards.
var GC struct {
	Percent int   // runtime/debug.SetGCPercent; -1: off
	Limit   int64 // runtime/debug.SetMemoryLimit, bytes
}

// Main boots with no application: the default kernel.
func Main() { Run(nil) }

// Run boots the kernel and then runs app, if any, in its own goroutine with
// a context cancelled at shutdown. It returns only by powering off.
func Run(app func(ctx context.Context)) {
	microvm.Mark("package init (kernel.Run)")
	m := &microvm.M
	cfg, err := board.ParseCmdline(m.Boot.Cmdline)
	if err != nil {
		fmt.Fprintf(os.Stdout, "damselfly: %v\n", err)
		Klog.Errorf("boot stopped: bad command line")
		microvm.PowerOff(false)
	}
	Config = cfg
	GC.Percent, GC.Limit = GCPolicy(cfg.GOGC, m.HeapSize())
	debug.SetGCPercent(GC.Percent)
	debug.SetMemoryLimit(GC.Limit)
	Klog.SetLevel(cfg.LogLevel)
	for _, e := range append(append([]error(nil), m.Errors...), registerErrors...) {
		Klog.Errorf("%v", e)
	}
	if len(m.Errors) > 0 || len(registerErrors) > 0 {
		Klog.Errorf("boot stopped: the machine is not usable")
		microvm.PowerOff(false)
	}

	microvm.FaultHandler = func(f *microvm.Fault) {
		r := Report{Fault: Fault{
			Vector: f.Regs.Vector, ErrorCode: f.Regs.ErrorCode,
			RAX: f.Regs.RAX, RBX: f.Regs.RBX, RCX: f.Regs.RCX, RDX: f.Regs.RDX,
			RSI: f.Regs.RSI, RDI: f.Regs.RDI, RBP: f.Regs.RBP, RSP: f.Regs.RSP,
			R8: f.Regs.R8, R9: f.Regs.R9, R10: f.Regs.R10, R11: f.Regs.R11,
			R12: f.Regs.R12, R13: f.Regs.R13, R14: f.Regs.R14, R15: f.Regs.R15,
			RIP: f.Regs.RIP, RFLAGS: f.Regs.RFLAGS, CS: f.Regs.CS, SS: f.Regs.SS, CR2: f.Regs.CR2,
			CPU: int(f.CPU),
		}, Code: f.Code, CodeAddr: f.CodeAddr, Stack: TrimFrames(f.Stack, "damselfly/board/microvm.fault"), Symbol: symbol}
		var b strings.Builder
		r.Write(&b)
		os.Stdout.WriteString(b.String())
		microvm.PowerOff(false)
	}

	accel := "TCG"
	if m.Hypervisor.Signature == "KVMKVMKVM" {
		accel = "KVM"
	}
	devs := []string{"uart0 16550 at io 0x3f8 (console)"}
	for _, io := range m.ACPI.IOAPICs {
		devs = append(devs, fmt.Sprintf("ioapic%d at %#x gsi %d", io.ID, io.Address, io.GSIBase))
	}
	for i, v := range cfg.Virtio {
		devs = append(devs, fmt.Sprintf("virtio-mmio%d at %#x size %#x irq %d", i, v.Base, v.Size, v.IRQ))
	}
	if m.DMA.Size() != 0 {
		devs = append(devs, fmt.Sprintf("dma region %v", m.DMA))
	}
	usable := board.TotalSize(m.Usable)
	os.Stdout.WriteString(Banner(BootInfo{
		Machine:    fmt.Sprintf("%s (%s, hypervisor %q)", m.Platform.Name, accel, m.Hypervisor.Signature),
		CPUsOnline: m.Online, CPUsPresent: len(m.CPUs),
		MemBytes: usable, HeapBytes: m.HeapSize(),
		TSCHz: m.TSCHz, TSCSource: m.TSCSource, XCR0: m.XCR0,
		Cmdline: m.Boot.Cmdline, Devices: devs,
	}))
	Klog.Infof("memory: usable %s", regionList(m.Usable))
	if m.WarmBoots > 0 {
		Klog.Infof("boot: warm reset %d: RAM holds the last boot's data, cleared as the heap takes it", m.WarmBoots)
	}
	if len(m.HeapExtra) > 0 {
		Klog.Infof("memory: heap %v plus %s", m.Heap, regionList(m.HeapExtra))
	}
	for _, n := range m.Notes {
		Klog.Warnf("%s", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	// stop cancels the application's context and runs the shutdown hooks
	// (services stop, filesystems are synced and unmounted); it reports
	// whether all of it succeeded. shutdown then powers off, reboot resets.
	stop := func(why string, success bool) bool {
		Klog.Infof("shutdown: %s", why)
		cancel()
		Shutdown.Run(func(name string, err error) {
			if err != nil {
				Klog.Errorf("shutdown: %s: %v", name, err)
				success = false
				return
			}
			Klog.Infof("shutdown: %s done", name)
		})
		return success
	}
	shutdown := func(why string, success bool) {
		success = stop(why, success)
		Klog.Infof("power off")
		microvm.PowerOff(success)
	}
	reboot := func(why string) {
		stop(why, true)
		Klog.Infof("reset")
		microvm.Reboot()
	}
	if microvm.OnPowerButton(func() { shutdown("power button pressed", true) }) {
		if m.Platform.GEDBase != 0 {
			Klog.Debugf("power button: ACPI GED at %#x", m.Platform.GEDBase)
		} else {
			Klog.Debugf("power button: ACPI fixed power button (PM1 event block)")
		}
	}

	microvm.Mark("ready line")
	os.Stdout.WriteString(ReadyLine(m.Online, len(m.CPUs), usable, int64(microvm.Since())))

	if len(cfg.SelfTests) > 0 {
		ok := Tests.Run(os.Stdout, Klog, cfg.SelfTests)
		shutdown("self-tests done", ok)
	}
	if app != nil {
		go app(ctx)
	}
	if cfg.PowerOff {
		BootProfileDone("poweroff")
		shutdown("poweroff on the command line", true)
	}
	if cfg.Shell {
		sh := NewShell(system{shutdown: shutdown, reboot: reboot})
		err := sh.Serve(microvm.Console{}, microvm.Console{})
		Klog.Infof("shell ended: %v", err)
	}
	select {}
}

// regionList formats regions as "[a-b) [c-d)".
func regionList(rs []board.Region) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, " ")
}

// BootProfileDone prints the boot's phase timeline (microvm.Profile), once,
// when bootprofile is on the command line. The application calls it when it
// considers the boot over (the appliance: after its first answered request).
func BootProfileDone(last string) {
	microvm.Mark(last)
	if !Config.BootProfile {
		return
	}
	profileOnce.Do(func() {
		var b strings.Builder
		if err := board.WriteProfile(&b, "bootprofile: ", microvm.Profile.Marks(), microvm.M.EntryTSC, microvm.M.TSCHz); err != nil {
			Klog.Warnf("%v", err)
			return
		}
		if n := microvm.Profile.Dropped.Load(); n > 0 {
			fmt.Fprintf(&b, "bootprofile: %d marks dropped (table full)\n", n)
		}
		Klog.Raw(b.String())
	})
}

// profileOnce makes BootProfileDone print once.
var profileOnce sync.Once

// symbol names a code address for the panic report.
func symbol(pc uint64) (string, uint64, bool) {
	f := runtime.FuncForPC(uintptr(pc))
	if f == nil {
		return "", 0, false
	}
	return f.Name(), pc - uint64(f.Entry()), true
}

// Sched is the LWKT system the application runs, if any: set once by the
// application when it starts its schedulers (before the shell can ask), read
// by the shell's threads and stats commands.
var Sched atomic.Pointer[sched.System]

func (system) LWKTThreads() string {
	if sys := Sched.Load(); sys != nil {
		return sched.FormatThreads(sys.Threads())
	}
	return "no LWKT system running\n"
}

func (system) LWKTStats() string {
	if sys := Sched.Load(); sys != nil {
		return sys.Stats().String()
	}
	return ""
}

// system is the shell's view of the machine.
type system struct {
	shutdown func(why string, success bool)
	reboot   func(why string)
}

func (system) CPUs() []CPUInfo {
	var c []CPUInfo
	for i, cpu := range microvm.M.CPUs {
		c = append(c, CPUInfo{Index: i, APICID: cpu.APICID, Online: i < microvm.M.Online})
	}
	return c
}

func (system) Mem() MemInfo {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mi := MemInfo{Usable: board.TotalSize(microvm.M.Usable), Heap: microvm.M.HeapSize(),
		HeapAlloc: ms.HeapAlloc, HeapSys: ms.HeapSys, TotalAlloc: ms.TotalAlloc, NumGC: uint64(ms.NumGC)}
	for _, r := range microvm.M.Usable {
		mi.Regions = append(mi.Regions, r.String())
	}
	return mi
}

func (system) Uptime() time.Duration { return microvm.Since() }

func (system) Threads() (int, []byte) {
	buf := make([]byte, 64<<10)
	return runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)]
}

func (system) Stats() []Stat {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return []Stat{
		{"clock.tsc_hz", microvm.M.TSCHz},
		{"clock.tsc_hz_now", microvm.ClockHz()},
		{"clock.samples", microvm.Timekeeper.Samples},
		{"clock.lost_wraps", microvm.Timekeeper.LostWraps},
		{"clock.max_error_ns", uint64(microvm.Timekeeper.MaxErrorNs)},
		{"cpu.online", uint64(microvm.M.Online)},
		{"go.goroutines", uint64(runtime.NumGoroutine())},
		{"go.gc_cycles", uint64(ms.NumGC)},
		{"go.heap_alloc_bytes", ms.HeapAlloc},
		{"log.dropped", Klog.Dropped()},
	}
}

func (s system) Reboot()   { s.reboot("reboot from the shell") }
func (s system) PowerOff() { s.shutdown("poweroff from the shell", true) }

func (system) SelfTestNames() []string { return Tests.Names() }

func (system) RunSelfTests(w io.Writer, names []string) bool { return Tests.Run(w, Klog, names) }
