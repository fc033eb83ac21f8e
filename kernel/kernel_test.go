package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"damselfly/board"
)

func TestLog(t *testing.T) {
	var b bytes.Buffer
	now := int64(0)
	l := NewLog(&b, func() int64 { return now }, board.LogInfo)
	now = 123456789
	l.Infof("smp: %d CPUs", 4)
	l.Debugf("hidden")
	now = 61e9 + 5000
	l.Errorf("disk gone\n")
	l.SetLevel(board.LogDebug)
	l.Debugf("shown")
	want := "[    0.123456] info: smp: 4 CPUs\n" +
		"[   61.000005] error: disk gone\n" +
		"[   61.000005] debug: shown\n"
	if b.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", b.String(), want)
	}
	if l.Dropped() != 1 {
		t.Errorf("dropped %d", l.Dropped())
	}
	if s := Stamp(-5); s != "[    0.000000]" {
		t.Errorf("negative stamp %q", s)
	}
	if s := Stamp(123456e9); s != "[123456.000000]" {
		t.Errorf("wide stamp %q", s)
	}
}

func TestReadyLineAndBanner(t *testing.T) {
	got := ReadyLine(3, 4, 2047<<20+5, 187654321)
	if got != "damselfly: ready cpus=3/4 mem=2047MiB boot_ms=187\n" {
		t.Errorf("ready line %q", got)
	}
	b := Banner(BootInfo{Machine: "qemu-microvm (TCG)", CPUsOnline: 2, CPUsPresent: 2, MemBytes: 256 << 20,
		HeapBytes: 200 << 20, TSCHz: 2893456000, TSCSource: "pit", XCR0: 7, Cmdline: "shell", Devices: []string{"uart0 0x3f8"}})
	wantAll(t, "banner", b, "Damselfly "+Version, "qemu-microvm (TCG)", "2/2 online", "2893.456 MHz (pit)",
		"cpu state: xcr0 0x7 (x87 sse avx)\n", "256 MiB usable, heap 200 MiB", `cmdline: "shell"`, "device: uart0 0x3f8")
}

func TestXCR0String(t *testing.T) {
	for _, tc := range []struct {
		xcr0 uint64
		want string
	}{
		{0, "xsave off (x87 and sse only)"},
		{3, "xcr0 0x3 (x87 sse)"},
		{7, "xcr0 0x7 (x87 sse avx)"},
		{0xe7, "xcr0 0xe7 (x87 sse avx opmask zmm_hi256 hi16_zmm)"},
		{1<<9 | 7, "xcr0 0x207 (x87 sse avx 0x200)"},
	} {
		if got := XCR0String(tc.xcr0); got != tc.want {
			t.Errorf("XCR0String(%#x) = %q, want %q", tc.xcr0, got, tc.want)
		}
	}
}

func TestSelfTests(t *testing.T) {
	var r SelfTests
	if err := r.Register("pass", func(*T) error { return nil }); err != nil {
		t.Fatal(err)
	}
	r.Register("fail", func(*T) error { return errors.New("off by\none") })
	r.Register("boom", func(*T) error { panic("kaboom") })
	if err := r.Register("pass", nil); err == nil {
		t.Error("duplicate registration accepted")
	}
	var out bytes.Buffer
	if !r.Run(&out, nil, []string{"pass", "pass"}) {
		t.Error("passing run reported failure")
	}
	out.Reset()
	if r.Run(&out, nil, []string{"pass", "fail", "boom", "nosuch"}) {
		t.Error("failing run reported success")
	}
	want := "selftest pass: ok\n" +
		"selftest fail: FAIL off by; one\n" +
		"selftest boom: FAIL panic: kaboom\n" +
		"selftest nosuch: FAIL unknown self-test (known: boom, fail, pass)\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestShutdownHooks(t *testing.T) {
	var s ShutdownHooks
	var order []string
	s.Register("vfs", func() error { order = append(order, "vfs"); return nil })
	s.Register("net", func() error { order = append(order, "net"); return errors.New("busy") })
	s.Register("http", func() error { panic("oops") })
	var reports []string
	if !s.Run(func(n string, err error) { reports = append(reports, fmt.Sprint(n, ":", err)) }) {
		t.Fatal("first Run returned false")
	}
	if strings.Join(order, ",") != "net,vfs" {
		t.Errorf("order %v", order)
	}
	want := "http:panic: oops|net:busy|vfs:<nil>"
	if strings.Join(reports, "|") != want {
		t.Errorf("reports %q, want %q", reports, want)
	}
	if s.Run(func(string, error) { t.Error("hook ran twice") }) {
		t.Error("second Run returned true")
	}
}
