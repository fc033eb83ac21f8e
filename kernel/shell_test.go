package kernel

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"damselfly/board"
)

func readLines(t *testing.T, input string) ([]string, []error) {
	t.Helper()
	ed := NewLineEditor(strings.NewReader(input), io.Discard)
	var lines []string
	var errs []error
	for {
		l, err := ed.ReadLine("> ")
		if err == io.EOF {
			return lines, errs
		}
		lines = append(lines, l)
		errs = append(errs, err)
	}
}

func TestLineEditor(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"plain", "help\r", []string{"help"}},
		{"crlf and lf", "a\r\nb\nc\r", []string{"a", "b", "c"}},
		{"backspace and del", "hepp\x7f\x7flp\r", []string{"help"}},
		{"backspace at start", "\x08\x08ok\r", []string{"ok"}},
		{"kill line", "garbage\x15mem\r", []string{"mem"}},
		{"left then insert", "hlp\x1b[D\x1b[De\r", []string{"help"}},
		{"home and end keys", "elp\x01h\x05!\r", []string{"help!"}},
		{"delete mid-line", "helxp\x1b[D\x7f\r", []string{"help"}},
		{"history up", "cpus\rmem\r\x1b[A\x1b[A\r", []string{"cpus", "mem", "cpus"}},
		{"history up down restores typing", "cpus\rup\x1b[A\x1b[B\r", []string{"cpus", "up"}},
		{"history ss3 arrows", "mem\r\x1bOA\r", []string{"mem", "mem"}},
		{"unknown escape ignored", "a\x1b[5~b\r", []string{"ab"}},
		{"non-ascii ignored", "a\xc3\xa9b\r", []string{"ab"}},
		{"eof ends last line", "uptime", []string{"uptime"}},
	}
	for _, tt := range tests {
		got, _ := readLines(t, tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	_, errs := readLines(t, "typo\x03help\r")
	if len(errs) != 2 || !errors.Is(errs[0], ErrInterrupt) || errs[1] != nil {
		t.Errorf("^C: %v", errs)
	}
	// ^D on an empty line is EOF; elsewhere it is ignored
	if got, _ := readLines(t, "a\x04b\r\x04ignored\r"); len(got) != 1 || got[0] != "ab" {
		t.Errorf("^D: %q", got)
	}
}

func TestLineEditorEcho(t *testing.T) {
	var out bytes.Buffer
	ed := NewLineEditor(strings.NewReader("ab\x7fc\x1b[D\x1b[DX\r"), &out)
	if l, err := ed.ReadLine("> "); err != nil || l != "Xac" {
		t.Fatalf("line %q %v", l, err)
	}
	// "> ", echo a, b; backspace: back 2, print "a", erase; c; each left
	// redraws from column 0 and steps back to the cursor; X inserted at
	// column 0 prints "Xac" and steps back over "ac".
	want := "> ab" + "\b\ba\x1b[K" + "c" + "\b\bac\x1b[K\b" + "\bac\x1b[K\b\b" + "Xac\x1b[K\b\b" + "\r\n"
	if out.String() != want {
		t.Errorf("echo %q\nwant %q", out.String(), want)
	}
}

type fakeSys struct {
	powered, rebooted bool
}

func (f *fakeSys) CPUs() []CPUInfo {
	return []CPUInfo{{0, 0, true}, {1, 1, true}, {2, 2, false}}
}
func (f *fakeSys) Mem() MemInfo {
	return MemInfo{Usable: 2047 << 20, Heap: 1800 << 20, Regions: []string{"[0x100000-0x7ff00000)"}, NumGC: 3}
}
func (f *fakeSys) Uptime() time.Duration  { return 3723500 * time.Millisecond }
func (f *fakeSys) Threads() (int, []byte) { return 12, []byte("goroutine 1 [running]:\n") }
func (f *fakeSys) Stats() []Stat          { return []Stat{{"ipi.sent", 5}, {"clock.tsc_hz", 2e9}} }
func (f *fakeSys) Reboot()                { f.rebooted = true }
func (f *fakeSys) PowerOff()              { f.powered = true }

// TestShellOverPipe drives the shell the way a terminal does: keystrokes
// arrive through a pipe while the shell runs in its own goroutine.
func TestShellOverPipe(t *testing.T) {
	sys := &fakeSys{}
	sh := NewShell(sys)
	if err := sh.Register(Command{Name: "echo", Args: "<words>", Help: "print words", Run: func(w io.Writer, a []string) error {
		_, err := io.WriteString(w, strings.Join(a, " ")+"\n")
		return err
	}}); err != nil {
		t.Fatal(err)
	}
	if sh.Register(Command{Name: "echo", Run: func(io.Writer, []string) error { return nil }}) == nil {
		t.Error("duplicate command registered")
	}
	inR, inW := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- sh.Serve(inR, &out) }()
	for _, k := range []string{"help\r", "cpus\r", "mem\r", "uptime\r", "threads -v\r", "threads x\r",
		"stats\r", "echo hi  there\r", "bogus\r", "\x1b[A\x15\r", "poweroff\r"} {
		if _, err := io.WriteString(inW, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	o := out.String()
	wantAll(t, "output", o,
		"damselfly shell: type help\r\n",
		"  cpus                 CPUs and their LAPIC ids\r\n",
		"  threads [-v]",
		"cpu1   lapic 1   online\r\n", "cpu2   lapic 2   offline\r\n", "2/3 online\r\n",
		"usable 2047 MiB, heap 1800 MiB\r\n", "  ram [0x100000-0x7ff00000)\r\n", "gc cycles 3",
		"up 1h2m3.5s\r\n",
		"12 goroutines\r\ngoroutine 1 [running]:\r\n",
		"threads: usage: threads [-v]\r\n",
		"clock.tsc_hz                     2000000000\r\nipi.sent",
		"hi there\r\n",
		"bogus: unknown command (try help)\r\n",
		"powering off\r\n")
	if !sys.powered || sys.rebooted {
		t.Errorf("powered %v rebooted %v", sys.powered, sys.rebooted)
	}
	// reboot ends the shell too
	sys2 := &fakeSys{}
	if err := NewShell(sys2).Serve(strings.NewReader("reboot\r"), io.Discard); err != nil || !sys2.rebooted {
		t.Errorf("reboot: %v %v", err, sys2.rebooted)
	}
	// end of input ends the shell with EOF
	if err := NewShell(sys2).Serve(strings.NewReader(""), io.Discard); err != io.EOF {
		t.Errorf("eof: %v", err)
	}
}

// lwktSys adds LWKT reports to the fake machine.
type lwktSys struct{ fakeSys }

func (*lwktSys) LWKTThreads() string { return "cpu0 kernel running netisr0\n" }
func (*lwktSys) LWKTStats() string   { return "cpu0 threads=3 runq=1 ipis=9\n" }

func TestShellLWKTReports(t *testing.T) {
	var out strings.Builder
	sh := NewShell(&lwktSys{})
	if err := sh.Serve(strings.NewReader("threads\nstats\n"), &out); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	wantAll(t, "output", out.String(), "netisr0", "12 goroutines", "runq=1 ipis=9", "ipi.sent")
}

// testerSys runs self-tests from its own registry.
type testerSys struct {
	fakeSys
	reg SelfTests
}

func (s *testerSys) SelfTestNames() []string { return s.reg.Names() }
func (s *testerSys) RunSelfTests(w io.Writer, names []string) bool {
	return s.reg.Run(w, NewLog(io.Discard, func() int64 { return 0 }, board.LogInfo), names)
}

func TestShellSelfTest(t *testing.T) {
	sys := &testerSys{}
	sys.reg.Register("pass", func(*T) error { return nil })
	sys.reg.Register("fail", func(*T) error { return errors.New("off by one") })
	var out strings.Builder
	if err := NewShell(sys).Serve(strings.NewReader("selftest\nselftest pass\nselftest pass fail\nselftest nope\n"), &out); !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	wantAll(t, "output", out.String(),
		"self-tests: fail pass\r\n",
		"selftest pass: ok\r\n",
		"selftest fail: FAIL off by one\r\nselftest: failed\r\n",
		"selftest nope: FAIL unknown self-test (known: fail, pass)\r\n")
	// A machine that cannot run them has no such command.
	out.Reset()
	NewShell(&fakeSys{}).Serve(strings.NewReader("selftest\n"), &out)
	if !strings.Contains(out.String(), "selftest: unknown command") {
		t.Errorf("selftest without a tester:\n%s", out.String())
	}
}
