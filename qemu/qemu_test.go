package qemu

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestArgs(t *testing.T) {
	c := Config{Kernel: "k.elf", Append: "selftest=time poweroff", SMP: 4, Memory: "2G",
		Disks: []string{"a.img"}, Net: NetUser, HostFwd: []string{"tcp:127.0.0.1:8080-:80"}, QMP: "/tmp/q.sock"}
	a, err := c.Args(AccelTCGMulti)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(a, " ")
	for _, s := range []string{
		"-M microvm", "-m 2G", "-smp 4", "-serial stdio", "-nodefaults",
		"-device isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel k.elf",
		"-append selftest=time poweroff", "-no-reboot", "-accel tcg,thread=multi -cpu max",
		"-drive id=disk0,file=a.img,format=raw,if=none -device virtio-blk-device,drive=disk0",
		"-netdev user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80 -device virtio-net-device,netdev=net0",
		"-qmp unix:/tmp/q.sock,server=on,wait=off", "-global virtio-mmio.force-legacy=false",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("args lack %q:\n%s", s, got)
		}
	}
	c = Config{Kernel: "k", Machine: "q35", Net: NetTap, Tap: "tap0", Reboot: true, Disks: []string{"a.img"}}
	a, _ = c.Args(AccelKVM)
	got = strings.Join(a, " ")
	for _, s := range []string{"-M q35", "-m 512M", "-smp 1", "-accel kvm -cpu host",
		"-netdev tap,id=net0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=net0,disable-legacy=on",
		"-device virtio-blk-pci,drive=disk0,disable-legacy=on"} {
		if !strings.Contains(got, s) {
			t.Errorf("args lack %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "-no-reboot") {
		t.Error("-no-reboot with Reboot set")
	}
	c = Config{Kernel: "vmlinuz", Initrd: "initrd.img", Net: NetTap, Tap: "tap0", MAC: "52:54:00:12:34:56"}
	a, _ = c.Args(AccelTCG)
	got = strings.Join(a, " ")
	for _, s := range []string{"-kernel vmlinuz -initrd initrd.img",
		"-device virtio-net-device,netdev=net0,mac=52:54:00:12:34:56"} {
		if !strings.Contains(got, s) {
			t.Errorf("args lack %q:\n%s", s, got)
		}
	}
	for _, bad := range []Config{
		{},
		{Kernel: "k", Memory: "lots"},
		{Kernel: "k", SMP: -1},
		{Kernel: "k", Disks: []string{"a,b"}},
		{Kernel: "k", Net: NetTap},
		{Kernel: "k", HostFwd: []string{"tcp::1-:2"}},
		{Kernel: "k", Net: NetUser, HostFwd: []string{"tcp::1-:2,x"}},
		{Kernel: "k", Initrd: "a,b"},
		{Kernel: "k", Net: NetUser, MAC: "52:54:00:12:34"},
		{Kernel: "k", Net: NetUser, MAC: "52:54:00:12:34:56,x=y"},
	} {
		if _, err := bad.Args(AccelTCG); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := (&Config{Kernel: "k"}).Args(AccelAuto); err == nil {
		t.Error("unresolved accelerator accepted")
	}
}

func TestResolveAccel(t *testing.T) {
	no := func() error { return errors.New("open /dev/kvm: no such file") }
	yes := func() error { return nil }
	if a, note, err := ResolveAccel(AccelAuto, no); a != AccelTCG || err != nil || !strings.Contains(note, "TCG") {
		t.Errorf("auto without kvm: %v %q %v", a, note, err)
	}
	if a, _, err := ResolveAccel(AccelAuto, yes); a != AccelKVM || err != nil {
		t.Errorf("auto with kvm: %v %v", a, err)
	}
	if _, _, err := ResolveAccel(AccelKVM, no); err == nil || !strings.Contains(err.Error(), "/dev/kvm") {
		t.Errorf("--kvm without kvm: %v", err)
	}
	if a, _, err := ResolveAccel(AccelTCGMulti, no); a != AccelTCGMulti || err != nil {
		t.Errorf("tcg multi: %v %v", a, err)
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]uint64{"256M": 256 << 20, "2G": 2 << 30, "128": 128 << 20, "1t": 1 << 40} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("%q: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "M", "-1G", "0", "1.5G", "99999999999999999T"} {
		if _, err := ParseMemory(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// fakeQEMU writes a script standing in for QEMU: it prints a console and
// exits with the given status, or hangs.
func fakeQEMU(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu-fake")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunVerdicts(t *testing.T) {
	tests := []struct {
		body    string
		verdict Verdict
		err     error
	}{
		{`printf 'boot\r\ndamselfly: ready cpus=1/1\r\npartial'; exit 33`, GuestSuccess, nil},
		{`echo selftest time: FAIL x; exit 35`, GuestFailure, ErrGuestFailure},
		{`exit 0`, GuestReset, nil},
		{`exit 1`, QEMUError, nil},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		var mu sync.Mutex
		var lines []string
		var stream strings.Builder
		res, err := Run(context.Background(), Config{Binary: fakeQEMU(t, tt.body), Kernel: "k"}, Options{
			SerialLog: filepath.Join(dir, "serial.log"),
			Stdout:    &stream,
			KVM:       func() error { return errors.New("none") },
			OnLine: func(_ time.Duration, l string) {
				mu.Lock()
				lines = append(lines, l)
				mu.Unlock()
			},
		})
		if res.Verdict != tt.verdict {
			t.Errorf("%s: verdict %v (err %v)", tt.body, res.Verdict, err)
		}
		if (err == nil) != (tt.verdict == GuestSuccess) {
			t.Errorf("%s: err %v", tt.body, err)
		}
		if tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: err %v, want %v", tt.body, err, tt.err)
		}
		if !strings.Contains(res.Note, "TCG") {
			t.Errorf("note %q", res.Note)
		}
		logged, _ := os.ReadFile(res.Serial)
		if string(logged) != stream.String() {
			t.Errorf("log %q != stream %q", logged, stream.String())
		}
		if tt.verdict == GuestSuccess {
			want := []string{"boot", "damselfly: ready cpus=1/1", "partial"}
			if strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Errorf("lines %q", lines)
			}
		}
	}
}

func TestRunTimeout(t *testing.T) {
	res, err := Run(context.Background(), Config{Binary: fakeQEMU(t, "echo up; exec sleep 60"), Kernel: "k"},
		Options{Timeout: 300 * time.Millisecond, KVM: func() error { return errors.New("none") }})
	if !errors.Is(err, ErrTimeout) || res.Verdict != Timeout {
		t.Errorf("verdict %v err %v", res.Verdict, err)
	}
}

func TestRunMissingBinary(t *testing.T) {
	_, err := Run(context.Background(), Config{Binary: "/nonexistent/qemu", Kernel: "k"},
		Options{KVM: func() error { return nil }})
	if err == nil {
		t.Error("missing binary accepted")
	}
}

// A console input that never ends must not keep Wait from returning.
func TestRunEndlessStdin(t *testing.T) {
	inR, inW := io.Pipe()
	defer inW.Close()
	go io.WriteString(inW, "hello\n") // then the stream stays open
	res, err := Run(context.Background(), Config{Binary: fakeQEMU(t, "read line; echo got $line; exit 33"), Kernel: "k"},
		Options{Stdin: inR, Timeout: 10 * time.Second, KVM: func() error { return errors.New("none") },
			OnLine: func(_ time.Duration, l string) {}})
	if err != nil || res.Verdict != GuestSuccess {
		t.Fatalf("%v (%v)", err, res.Verdict)
	}
}
