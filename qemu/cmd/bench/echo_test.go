package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		line string
		want time.Duration
		ok   bool
	}{
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
		{"1234 (qemu-system-x86) S 1 1 1 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 5 0", 2800 * time.Millisecond, true},
		{"77 (CPU 0/TCG) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0", 100 * time.Millisecond, true},
		{"9 (a) b) (c) S 1 1 1 0 -1 0 0 0 0 0 1 1", 20 * time.Millisecond, true},
		{"9 (short) S 1 2 3", 0, false},
		{"no parenthesis 1 2 3 4 5 6 7 8 9 10 11 12 13", 0, false},
		{"9 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 1", 0, false},
		{"9 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1", 0, false},
	} {
		got, ok := statCPU(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %v, want %v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzStatCPU(f *testing.F) {
	f.Add("1234 (qemu) S 1 1 1 0 -1 4194560 100 0 0 0 250 30 0 0")
	f.Add("(((")
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := statCPU(s); ok && d < 0 {
			t.Fatalf("%q: negative %v", s, d)
		}
	})
}

// fakeStub is a gdbstub of two vCPUs stopped at known places: thread 1 in
// a frameless function called from 0x2222, frames at 0x3333 and 0x4444;
// thread 2 halted with no frame pointer.
func fakeStub(t *testing.T, path string) {
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	le := func(v uint64) string {
		var b strings.Builder
		for i := 0; i < 8; i++ {
			fmt.Fprintf(&b, "%02x", byte(v>>(8*i)))
		}
		return b.String()
	}
	regs := map[string]string{}
	for id, r := range map[string][3]uint64{"1": {0x1111, 0x8000, 0x9000}, "2": {0x5555, 0x8800, 0}} {
		var b strings.Builder
		for i := 0; i < 16; i++ {
			v := uint64(0)
			switch i {
			case 6:
				v = r[2] // rbp
			case 7:
				v = r[1] // rsp
			}
			b.WriteString(le(v))
		}
		b.WriteString(le(r[0])) // rip
		b.WriteString(strings.Repeat("0", 200))
		regs[id] = b.String()
	}
	mem := map[uint64]uint64{0x8000: 0x2222, 0x8800: 0x6666, 0x9000: 0x9100, 0x9008: 0x3333, 0x9100: 0, 0x9108: 0x4444}
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		send := func(data string) {
			var sum byte
			for i := 0; i < len(data); i++ {
				sum += data[i]
			}
			fmt.Fprintf(c, "+$%s#%02x", data, sum)
		}
		send("T02thread:01;") // unsolicited, as QEMU on attach
		cur := "1"
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			switch b {
			case 0x03:
				send("T02thread:01;")
				continue
			case '$':
			default:
				continue
			}
			pkt, err := r.ReadString('#')
			if err != nil {
				return
			}
			r.Discard(2)
			pkt = strings.TrimSuffix(pkt, "#")
			switch {
			case pkt == "?":
				send("T05thread:01;")
			case pkt == "qfThreadInfo":
				send("m1,2")
			case pkt == "qsThreadInfo":
				send("l")
			case strings.HasPrefix(pkt, "Hg"):
				cur = pkt[2:]
				send("OK")
			case pkt == "g":
				send(regs[cur])
			case strings.HasPrefix(pkt, "m"):
				var addr, n uint64
				fmt.Sscanf(pkt, "m%x,%x", &addr, &n)
				if v, ok := mem[addr]; ok {
					send(le(v))
				} else {
					send("E14")
				}
			case pkt == "c":
			case pkt == "D":
				send("OK")
				return
			}
		}
	}()
}

// The profiler speaks the remote protocol: it samples both vCPUs with
// their return addresses and writes them out.
func TestProfiler(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "gdb")
	fakeStub(t, sock)
	p, err := startProfiler(sock, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p.enable(true)
	select {
	case <-p.taken:
	case <-time.After(time.Minute):
		t.Fatal("no sample taken")
	}
	p.enable(false)
	out := filepath.Join(dir, "prof")
	if err := p.stop(out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{" 0x1111,0x2222,0x3333,0x4444\n", " 0x5555,0x6666\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("profile lacks %q:\n%s", want, text)
		}
	}
}
