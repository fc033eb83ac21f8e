// Command vmrun boots a Damselfly kernel in QEMU.
//
//	go run ./qemu/cmd/vmrun --kernel build/kernel.elf --smp 4 --mem 1G --append "shell"
//
// It uses KVM when /dev/kvm is usable and TCG otherwise (saying so), streams
// the serial console to stdout while saving it to --serial-log, and exits 0
// when the guest reported success through isa-debug-exit (QEMU status 33),
// 1 when it reported failure (35), 2 on timeout and 3 on anything else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"damselfly/qemu"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var (
		cfg      qemu.Config
		disks    list
		hostfwd  list
		kvm      = flag.Bool("kvm", false, "require KVM (error if /dev/kvm is not usable)")
		tcgMulti = flag.Bool("tcg-multi", false, "TCG with one host thread per vCPU (-accel tcg,thread=multi)")
		netMode  = flag.String("net", "", "network: none, user or tap (default: none, or implied by --hostfwd/--tap)")
		timeout  = flag.Duration("timeout", 0, "kill the VM after this long (0: never)")
		logPath  = flag.String("serial-log", "", "also write the console to this file")
	)
	flag.StringVar(&cfg.Kernel, "kernel", "build/kernel.elf", "kernel image (PVH ELF)")
	flag.StringVar(&cfg.Machine, "machine", qemu.DefaultMachine, "QEMU machine type")
	flag.IntVar(&cfg.SMP, "smp", 1, "vCPUs")
	flag.StringVar(&cfg.Memory, "mem", qemu.DefaultMemory, "memory size (QEMU syntax: 256M, 2G)")
	flag.StringVar(&cfg.Append, "append", "", "kernel command line")
	flag.StringVar(&cfg.Tap, "tap", "", "use this tap interface for the network")
	flag.StringVar(&cfg.QMP, "qmp", "", "QMP unix socket path (for system_powerdown)")
	flag.BoolVar(&cfg.Reboot, "reboot", false, "let a guest reset reboot the VM instead of ending QEMU")
	flag.StringVar(&cfg.Binary, "qemu", qemu.DefaultBinary, "QEMU binary")
	flag.Var(&disks, "disk", "raw disk image for a virtio-blk device (repeatable)")
	flag.Var(&hostfwd, "hostfwd", "user network port forward, e.g. tcp:127.0.0.1:8080-:80 (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: vmrun [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vmrun: unexpected arguments %q\n", flag.Args())
		os.Exit(3)
	}
	cfg.Disks, cfg.HostFwd = disks, hostfwd
	switch {
	case *netMode == "none" || (*netMode == "" && cfg.Tap == "" && len(hostfwd) == 0):
		cfg.Net = qemu.NetNone
	case *netMode == "user" || (*netMode == "" && len(hostfwd) > 0):
		cfg.Net = qemu.NetUser
	case *netMode == "tap" || (*netMode == "" && cfg.Tap != ""):
		cfg.Net = qemu.NetTap
	default:
		fmt.Fprintf(os.Stderr, "vmrun: --net %q: want none, user or tap\n", *netMode)
		os.Exit(3)
	}
	switch {
	case *kvm:
		cfg.Accel = qemu.AccelKVM
	case *tcgMulti:
		cfg.Accel = qemu.AccelTCGMulti
	}
	interactive := isTerminal(os.Stdin)
	// Standard input goes to the guest's console, from a terminal or a pipe
	// (scripts drive the shell that way).
	opts := qemu.Options{Stdout: os.Stdout, Stdin: os.Stdin, SerialLog: *logPath, Timeout: *timeout}
	if interactive {
		cfg.Interactive = true
		fmt.Fprintln(os.Stderr, "vmrun: console on this terminal; Ctrl-A x quits QEMU, Ctrl-A c toggles its monitor")
	}
	if _, err := os.Stat(cfg.Kernel); err != nil {
		fmt.Fprintf(os.Stderr, "vmrun: kernel: %v (build it with make kernel)\n", err)
		os.Exit(3)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	vm, err := qemu.Start(ctx, cfg, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmrun: %v\n", err)
		os.Exit(3)
	}
	if n := vm.Note(); n != "" {
		fmt.Fprintf(os.Stderr, "vmrun: %s\n", n)
	}
	res, err := vm.Wait()
	fmt.Fprintf(os.Stderr, "vmrun: %s (qemu status %d) after %s\n", res.Verdict, res.Status, res.Duration.Round(time.Millisecond))
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, qemu.ErrGuestFailure):
		os.Exit(1)
	case errors.Is(err, qemu.ErrTimeout):
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "vmrun: %v\n", err)
	os.Exit(3)
}

// isTerminal reports whether f is a character device other than /dev/null
// (good enough to tell a person's terminal from a pipe or a CI runner).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(st, null) {
		return false
	}
	return true
}
