package kernel

import (
	"bytes"
	"strings"
	"testing"
)

// code is a canned function body: push rbp; mov rbp,rsp; mov rbx,rax;
// mov rax,[rax] (faults); add rsp,8; nop; ret.
var code = []byte{
	0x55,
	0x48, 0x89, 0xe5,
	0x48, 0x89, 0xc3,
	0x48, 0x8b, 0x00, // faulting instruction at offset 7
	0x48, 0x83, 0xc4, 0x08,
	0x90,
	0xc3,
}

const codeAddr = 0x10123400

func TestDisassemble(t *testing.T) {
	lines := Disassemble(code, codeAddr, codeAddr+7, 6, 5)
	want := []struct {
		addr uint64
		text string
	}{
		{codeAddr, "PUSHQ BP"},
		{codeAddr + 1, "MOVQ SP, BP"},
		{codeAddr + 4, "MOVQ AX, BX"},
		{codeAddr + 7, "MOVQ 0(AX), AX"},
		{codeAddr + 10, "ADDQ $0x8, SP"},
		{codeAddr + 14, "NOPL"},
		{codeAddr + 15, "RET"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines: %+v", len(lines), lines)
	}
	for i, w := range want {
		if lines[i].Addr != w.addr || lines[i].Text != w.text {
			t.Errorf("line %d: %#x %q, want %#x %q", i, lines[i].Addr, lines[i].Text, w.addr, w.text)
		}
	}
	// limits on both sides
	if l := Disassemble(code, codeAddr, codeAddr+7, 1, 0); len(l) != 2 || l[0].Addr != codeAddr+4 || l[1].Addr != codeAddr+7 {
		t.Errorf("1 before, 0 after: %+v", l)
	}
	if l := Disassemble(code, codeAddr, codeAddr+100, 3, 3); l != nil {
		t.Errorf("pc outside code: %+v", l)
	}
	// garbage after the fault stops the listing with an error line
	bad := append(append([]byte{}, code[:10]...), 0x06) // PUSH ES: invalid in 64-bit mode
	l := Disassemble(bad, codeAddr, codeAddr+7, 2, 5)
	if last := l[len(l)-1]; last.Err == nil {
		t.Errorf("undecodable bytes gave %+v", last)
	}
}

func TestReportPageFault(t *testing.T) {
	r := &Report{
		Fault: Fault{Vector: 14, ErrorCode: 0, CR2: 0xdead0000000, RIP: codeAddr + 7, RAX: 0xdead0000000,
			RBX: 0xdead0000000, RSP: 0x1fff0000, RFLAGS: 0x246, CS: 8, SS: 0x10, CPU: 1, R15: 0xf15},
		Code: code, CodeAddr: codeAddr,
		Stack: []byte("goroutine 7 [running]:\ndamselfly/kernel.faultTest()\n\t/kernel/selftests.go:40 +0x1c\n"),
		Symbol: func(pc uint64) (string, uint64, bool) {
			if pc >= codeAddr && pc < codeAddr+uint64(len(code)) {
				return "damselfly/kernel.faultTest", pc - codeAddr, true
			}
			return "", 0, false
		},
	}
	var b bytes.Buffer
	r.Write(&b)
	out := b.String()
	wantAll(t, "report", out,
		"panic: cpu exception 14: #PF page fault on cpu 1\n",
		"fault address: 0x00000dead0000000 (cr2), error code 0x0: page not present, read, supervisor\n",
		"rip 0x0000000010123407 <damselfly/kernel.faultTest+0x7>\n",
		"rax    0x00000dead0000000",
		"r15    0x0000000000000f15",
		"rflags 0x0000000000000246",
		"=> 0x0000000010123407  488b00                 MOVQ 0(AX), AX <damselfly/kernel.faultTest+0x7>\n",
		"   0x0000000010123404  4889c3                 MOVQ AX, BX",
		"goroutine 7 [running]:\ndamselfly/kernel.faultTest()")
}

func TestReportOtherVectors(t *testing.T) {
	for _, tt := range []struct {
		f    Fault
		want string
	}{
		{Fault{Vector: 13, ErrorCode: 0x18, RIP: 0x1000}, "cpu exception 13: #GP general protection on cpu 0\nfault address: 0x0000000000001000 (rip), error code 0x18\n"},
		{Fault{Vector: 6, RIP: 0x2000}, "cpu exception 6: #UD invalid opcode on cpu 0\nfault address: 0x0000000000002000 (rip)\n"},
		{Fault{Vector: 14, ErrorCode: 0x13}, "error code 0x13: protection violation, write, supervisor, instruction fetch"},
		{Fault{Vector: 40}, "cpu exception 40: vector 40"},
		{Fault{Vector: 15}, "cpu exception 15: reserved"},
	} {
		var b bytes.Buffer
		(&Report{Fault: tt.f}).Write(&b)
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("vector %d: %q lacks %q", tt.f.Vector, b.String(), tt.want)
		}
		if !strings.Contains(b.String(), "(no code bytes") {
			t.Errorf("no code: %q", b.String())
		}
	}
}

func FuzzDisassemble(f *testing.F) {
	f.Add(code, uint8(7))
	f.Add([]byte{0x0f, 0xff, 0xc3}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, off uint8) {
		lines := Disassemble(b, 0x1000, 0x1000+uint64(off), 6, 5)
		if int(off) >= len(b) {
			if lines != nil {
				t.Fatal("lines for pc outside code")
			}
			return
		}
		found := false
		for _, l := range lines {
			if l.Addr == 0x1000+uint64(off) {
				found = true
			}
			if l.Addr < 0x1000 || l.Addr >= 0x1000+uint64(len(b)) {
				t.Fatalf("line at %#x outside code", l.Addr)
			}
		}
		if !found {
			t.Fatal("faulting pc not listed")
		}
	})
}

func TestTrimFrames(t *testing.T) {
	in := "goroutine 9 [running]:\n" +
		"damselfly/board/microvm.faultReport()\n\tdamselfly/board/microvm/fault_amd64.go:57 +0x207\n" +
		"damselfly/board/microvm.faultEntry()\n\tdamselfly/board/microvm/io_amd64.s:265 +0x5\n" +
		"damselfly/kernel.faultSelfTest.func1()\n\tdamselfly/kernel/selftests_tamago.go:123 +0x19\n" +
		"created by damselfly/kernel.faultSelfTest in goroutine 1\n\tdamselfly/kernel/selftests_tamago.go:122 +0x66\n"
	want := "goroutine 9 [running]:\n" +
		"damselfly/kernel.faultSelfTest.func1()\n\tdamselfly/kernel/selftests_tamago.go:123 +0x19\n" +
		"created by damselfly/kernel.faultSelfTest in goroutine 1\n\tdamselfly/kernel/selftests_tamago.go:122 +0x66\n"
	if got := string(TrimFrames([]byte(in), "damselfly/board/microvm.fault")); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := string(TrimFrames([]byte(in))); got != in {
		t.Error("no prefixes changed the trace")
	}
}
