// Package qemu launches a Damselfly kernel in QEMU: it builds the command
// line from a typed Config, runs QEMU with the serial console captured to a
// file and streamed to a writer, and maps QEMU's exit status back to the
// guest's verdict.
//
// The guest reports its verdict through isa-debug-exit (iobase 0xf4): QEMU
// exits with (value << 1) | 1, so the kernel's 0x10 becomes 33 (success) and
// 0x11 becomes 35 (failure). Any other status means QEMU itself failed, the
// guest reset (-no-reboot turns a reset or triple fault into exit 0), or
// the timeout killed it.
package qemu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Exit statuses produced by isa-debug-exit for the kernel's two verdicts.
const (
	DebugExitPort  = 0xf4
	StatusSuccess  = 0x10<<1 | 1 // 33
	StatusFailure  = 0x11<<1 | 1 // 35
	DefaultBinary  = "qemu-system-x86_64"
	DefaultMachine = "microvm"
	DefaultMemory  = "512M"
	kvmDevice      = "/dev/kvm"
)

// NetMode selects the guest's network.
type NetMode int

const (
	NetNone NetMode = iota
	NetUser         // QEMU's user-mode network (slirp), with host port forwards
	NetTap          // an existing tap interface
)

// Accel selects the accelerator.
type Accel int

const (
	AccelAuto     Accel = iota // KVM when /dev/kvm is usable, else TCG
	AccelKVM                   // KVM or an error
	AccelTCG                   // TCG, one host thread for all vCPUs
	AccelTCGMulti              // TCG with one host thread per vCPU (thread=multi)
)

// Config describes one VM.
type Config struct {
	Binary  string // default qemu-system-x86_64
	Machine string // default microvm; "q35" and "pc" work too
	Kernel  string // PVH ELF image, or a Linux bzImage (with Initrd)
	Initrd  string // initial ramdisk for a Linux kernel; "" for Damselfly
	Append  string // kernel command line
	SMP     int    // vCPUs, default 1
	Memory  string // "256M", "2G"; default 512M
	Disks   []string
	Net     NetMode
	HostFwd []string // NetUser: "tcp:127.0.0.1:8080-:80"
	Tap     string   // NetTap: interface name
	MAC     string   // the virtio-net device's MAC address; "" lets QEMU choose
	Accel   Accel
	// QMP, if set, is a unix socket path for QEMU's machine protocol, used
	// by PowerButton.
	QMP string
	// Reboot lets a guest reset reboot the VM; by default a reset ends
	// QEMU (-no-reboot), which is what tests want.
	Reboot bool
	// Interactive multiplexes QEMU's monitor onto the console (Ctrl-A c;
	// Ctrl-A x quits), for a person at a terminal.
	Interactive bool
	Extra       []string // appended verbatim
}

// KVMUsable reports whether /dev/kvm can be opened for reading and writing.
func KVMUsable() error {
	f, err := os.OpenFile(kvmDevice, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("qemu: kvm not usable: %w", err)
	}
	f.Close()
	return nil
}

// ResolveAccel turns AccelAuto into KVM or TCG and checks AccelKVM. The note
// says what was chosen and why, for the user.
func ResolveAccel(a Accel, kvm func() error) (Accel, string, error) {
	switch a {
	case AccelAuto:
		if err := kvm(); err != nil {
			return AccelTCG, fmt.Sprintf("note: using TCG (software emulation, slower): %v", err), nil
		}
		return AccelKVM, "note: using KVM", nil
	case AccelKVM:
		if err := kvm(); err != nil {
			return 0, "", fmt.Errorf("KVM requested but %v (is the kvm module loaded, and may this user open /dev/kvm? without --kvm QEMU runs under TCG, slower)", err)
		}
	}
	return a, "", nil
}

// ParseMemory checks a QEMU memory size ("512", "512M", "2G") and returns
// bytes.
func ParseMemory(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("qemu: empty memory size")
	}
	shift := 20 // QEMU's default unit is MiB
	switch s[len(s)-1] {
	case 'K', 'k':
		shift, s = 10, s[:len(s)-1]
	case 'M', 'm':
		shift, s = 20, s[:len(s)-1]
	case 'G', 'g':
		shift, s = 30, s[:len(s)-1]
	case 'T', 't':
		shift, s = 40, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || n > 1<<(63-shift) {
		return 0, fmt.Errorf("qemu: bad memory size %q", s)
	}
	return n << shift, nil
}

// Args builds QEMU's arguments (without the binary). accel must already be
// resolved (see ResolveAccel).
func (c *Config) Args(accel Accel) ([]string, error) {
	if c.Kernel == "" {
		return nil, errors.New("qemu: no kernel image")
	}
	machine := c.Machine
	if machine == "" {
		machine = DefaultMachine
	}
	mem := c.Memory
	if mem == "" {
		mem = DefaultMemory
	}
	if _, err := ParseMemory(mem); err != nil {
		return nil, err
	}
	smp := c.SMP
	if smp == 0 {
		smp = 1
	}
	if smp < 0 || smp > 255 {
		return nil, fmt.Errorf("qemu: bad vCPU count %d", smp)
	}
	// microvm has virtio-mmio slots only; the PC machines have PCI, where
	// the devices are made modern-only (disable-legacy=on): Damselfly
	// drives virtio 1.x, and a transitional device also decodes a legacy
	// I/O BAR nobody uses.
	virtioSuffix, pciOpts := "pci", ",disable-legacy=on"
	if machine == "microvm" || strings.HasPrefix(machine, "microvm,") {
		virtioSuffix, pciOpts = "device", ""
	}
	serial := "stdio"
	if c.Interactive {
		serial = "mon:stdio"
	}
	a := []string{
		"-M", machine,
		"-m", mem,
		"-smp", strconv.Itoa(smp),
		"-nodefaults", "-no-user-config", "-display", "none",
		"-serial", serial,
		"-device", fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=0x04", DebugExitPort),
		"-kernel", c.Kernel,
	}
	if c.Initrd != "" {
		if strings.Contains(c.Initrd, ",") {
			return nil, fmt.Errorf("qemu: initrd path %q contains a comma", c.Initrd)
		}
		a = append(a, "-initrd", c.Initrd)
	}
	if c.Append != "" {
		a = append(a, "-append", c.Append)
	}
	if !c.Reboot {
		a = append(a, "-no-reboot")
	}
	switch accel {
	case AccelKVM:
		a = append(a, "-accel", "kvm", "-cpu", "host")
	// Under TCG the default qemu64 model lacks RDRAND, which the tamago
	// amd64 package seeds the runtime's RNG with: -cpu max has it.
	case AccelTCG:
		a = append(a, "-accel", "tcg", "-cpu", "max")
	case AccelTCGMulti:
		a = append(a, "-accel", "tcg,thread=multi", "-cpu", "max")
	default:
		return nil, fmt.Errorf("qemu: accelerator %d not resolved", accel)
	}
	if virtioSuffix == "device" {
		// QEMU's virtio-mmio transport defaults to the legacy (version 1)
		// register layout; Damselfly drives virtio 1.x devices only.
		a = append(a, "-global", "virtio-mmio.force-legacy=false")
	}
	for i, d := range c.Disks {
		if strings.ContainsAny(d, ",") {
			return nil, fmt.Errorf("qemu: disk path %q contains a comma", d)
		}
		a = append(a, "-drive", fmt.Sprintf("id=disk%d,file=%s,format=raw,if=none", i, d),
			"-device", fmt.Sprintf("virtio-blk-%s,drive=disk%d%s", virtioSuffix, i, pciOpts))
	}
	netDevice := "virtio-net-" + virtioSuffix + ",netdev=net0"
	if c.MAC != "" {
		if _, err := net.ParseMAC(c.MAC); err != nil || strings.ContainsAny(c.MAC, ", ") {
			return nil, fmt.Errorf("qemu: bad MAC address %q", c.MAC)
		}
		netDevice += ",mac=" + c.MAC
	}
	netDevice += pciOpts
	switch c.Net {
	case NetNone:
		if len(c.HostFwd) > 0 || c.Tap != "" {
			return nil, errors.New("qemu: host forwards or tap given without a network")
		}
	case NetUser:
		nd := "user,id=net0"
		for _, f := range c.HostFwd {
			if strings.ContainsAny(f, ", ") {
				return nil, fmt.Errorf("qemu: bad host forward %q", f)
			}
			nd += ",hostfwd=" + f
		}
		a = append(a, "-netdev", nd, "-device", netDevice)
	case NetTap:
		if c.Tap == "" || strings.ContainsAny(c.Tap, ", ") {
			return nil, fmt.Errorf("qemu: bad tap interface %q", c.Tap)
		}
		a = append(a, "-netdev", "tap,id=net0,ifname="+c.Tap+",script=no,downscript=no",
			"-device", netDevice)
	}
	if c.QMP != "" {
		a = append(a, "-qmp", "unix:"+c.QMP+",server=on,wait=off")
	}
	return append(a, c.Extra...), nil
}

// Result is how a run ended.
type Result struct {
	Status   int // QEMU's exit status, -1 if killed
	Verdict  Verdict
	Duration time.Duration // QEMU start to exit
	Serial   string        // path of the captured console
	Note     string        // accelerator choice
}

// Verdict is the guest's outcome.
type Verdict int

const (
	GuestSuccess Verdict = iota // isa-debug-exit 0x10
	GuestFailure                // isa-debug-exit 0x11
	GuestReset                  // QEMU exited 0: reset, triple fault or ACPI off
	QEMUError                   // QEMU exited with another status
	Timeout
)

func (v Verdict) String() string {
	return [...]string{"success", "guest failure", "guest reset or powered off without isa-debug-exit",
		"qemu error", "timeout"}[v]
}

// VerdictOf maps QEMU's exit status.
func VerdictOf(status int) Verdict {
	switch status {
	case StatusSuccess:
		return GuestSuccess
	case StatusFailure:
		return GuestFailure
	case 0:
		return GuestReset
	}
	return QEMUError
}

// ErrTimeout is returned when the VM outlived its timeout.
var ErrTimeout = errors.New("qemu: timeout")
