// Panic and CPU-exception reports.
//
// When the CPU raises an exception the board's handler saves the registers
// and the faulting context into a Fault and the kernel prints a Report: the
// exception's name (Intel SDM Vol. 3A, 6.15 "Exception and Interrupt
// Reference"), the registers, the faulting address (CR2 for a page fault,
// with its error code decoded as in SDM 4.7), the instruction that faulted
// disassembled with its neighbours, and the current goroutine's stack.
// Formatting is pure: the tests feed it canned register dumps and code.

package kernel

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// Fault is the machine state at an exception.
type Fault struct {
	Vector, ErrorCode                      uint64
	RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS, CS, SS, CR2               uint64
	CPU                                    int
}

// exceptionNames holds the mnemonic and name of vectors 0-31 (SDM Vol. 3A,
// Table 6-1).
var exceptionNames = [32][2]string{
	{"#DE", "divide error"}, {"#DB", "debug"}, {"NMI", "non-maskable interrupt"},
	{"#BP", "breakpoint"}, {"#OF", "overflow"}, {"#BR", "bound range exceeded"},
	{"#UD", "invalid opcode"}, {"#NM", "device not available"}, {"#DF", "double fault"},
	{"", "coprocessor segment overrun"}, {"#TS", "invalid TSS"}, {"#NP", "segment not present"},
	{"#SS", "stack-segment fault"}, {"#GP", "general protection"}, {"#PF", "page fault"},
	{"", "reserved"}, {"#MF", "x87 floating-point error"}, {"#AC", "alignment check"},
	{"#MC", "machine check"}, {"#XM", "SIMD floating-point exception"}, {"#VE", "virtualization exception"},
	{"#CP", "control protection"}, {"", "reserved"}, {"", "reserved"}, {"", "reserved"},
	{"", "reserved"}, {"", "reserved"}, {"", "reserved"}, {"#HV", "hypervisor injection"},
	{"#VC", "VMM communication"}, {"#SX", "security exception"}, {"", "reserved"},
}

// ExceptionName returns "#PF page fault" for 14, "vector 40" above 31.
func ExceptionName(v uint64) string {
	if v >= 32 {
		return fmt.Sprintf("vector %d", v)
	}
	n := exceptionNames[v]
	if n[0] == "" {
		return n[1]
	}
	return n[0] + " " + n[1]
}

// Exceptions that push an error code (SDM Vol. 3A, Table 6-1).
func HasErrorCode(v uint64) bool {
	switch v {
	case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30:
		return true
	}
	return false
}

// pageFaultCause decodes a #PF error code (SDM Vol. 3A, 4.7).
func pageFaultCause(code uint64) string {
	var p []string
	if code&1 != 0 {
		p = append(p, "protection violation")
	} else {
		p = append(p, "page not present")
	}
	if code&2 != 0 {
		p = append(p, "write")
	} else {
		p = append(p, "read")
	}
	if code&4 != 0 {
		p = append(p, "user")
	} else {
		p = append(p, "supervisor")
	}
	if code&8 != 0 {
		p = append(p, "reserved bit set")
	}
	if code&16 != 0 {
		p = append(p, "instruction fetch")
	}
	return strings.Join(p, ", ")
}

// Report is everything printed for a fatal exception.
type Report struct {
	Fault    Fault
	Code     []byte // memory around RIP...
	CodeAddr uint64 // ...starting at this address
	Stack    []byte // the current goroutine's trace, from runtime.Stack
	// Symbol names a code address ("pkg.Func", offset); optional.
	Symbol func(pc uint64) (name string, off uint64, ok bool)
}

func (r *Report) sym(pc uint64) string {
	if r.Symbol == nil {
		return ""
	}
	if name, off, ok := r.Symbol(pc); ok {
		return fmt.Sprintf(" <%s+%#x>", name, off)
	}
	return ""
}

// Write prints the report.
func (r *Report) Write(w io.Writer) {
	f := &r.Fault
	fmt.Fprintf(w, "panic: cpu exception %d: %s on cpu %d\n", f.Vector, ExceptionName(f.Vector), f.CPU)
	switch {
	case f.Vector == 14:
		fmt.Fprintf(w, "fault address: %#016x (cr2), error code %#x: %s\n", f.CR2, f.ErrorCode, pageFaultCause(f.ErrorCode))
	case HasErrorCode(f.Vector):
		fmt.Fprintf(w, "fault address: %#016x (rip), error code %#x\n", f.RIP, f.ErrorCode)
	default:
		fmt.Fprintf(w, "fault address: %#016x (rip)\n", f.RIP)
	}
	fmt.Fprintf(w, "rip %#016x%s\n", f.RIP, r.sym(f.RIP))
	regs := []struct {
		n string
		v uint64
	}{
		{"rax", f.RAX}, {"rbx", f.RBX}, {"rcx", f.RCX}, {"rdx", f.RDX},
		{"rsi", f.RSI}, {"rdi", f.RDI}, {"rbp", f.RBP}, {"rsp", f.RSP},
		{"r8", f.R8}, {"r9", f.R9}, {"r10", f.R10}, {"r11", f.R11},
		{"r12", f.R12}, {"r13", f.R13}, {"r14", f.R14}, {"r15", f.R15},
		{"rflags", f.RFLAGS}, {"cs", f.CS}, {"ss", f.SS}, {"cr2", f.CR2},
	}
	for i, rg := range regs {
		sep := "  "
		if i%4 == 3 || i == len(regs)-1 {
			sep = "\n"
		}
		fmt.Fprintf(w, "%-6s %#016x%s", rg.n, rg.v, sep)
	}
	fmt.Fprintf(w, "code:\n")
	lines := Disassemble(r.Code, r.CodeAddr, f.RIP, 6, 5)
	if len(lines) == 0 {
		fmt.Fprintf(w, "  (no code bytes at %#x)\n", f.RIP)
	}
	for _, l := range lines {
		mark := "   "
		if l.Addr == f.RIP {
			mark = "=> "
		}
		text := l.Text
		if l.Err != nil {
			text = "(bad: " + l.Err.Error() + ")"
		}
		fmt.Fprintf(w, "%s%#016x  %-22x %s%s\n", mark, l.Addr, l.Bytes, text, r.sym(l.Addr))
	}
	if len(r.Stack) > 0 {
		w.Write(r.Stack)
		if r.Stack[len(r.Stack)-1] != '\n' {
			io.WriteString(w, "\n")
		}
	}
}

// Line is one disassembled instruction.
type Line struct {
	Addr  uint64
	Bytes []byte
	Text  string // Go assembler syntax, as `go tool objdump` prints
	Err   error
}

// Disassemble decodes up to before instructions leading to pc and after
// instructions following it (pc's own included), from code starting at
// addr. x86 instructions have no fixed length, so decoding backwards is
// guesswork: it tries every start up to 15*before bytes back and keeps the
// earliest one whose instruction stream lands exactly on pc.
func Disassemble(code []byte, addr, pc uint64, before, after int) []Line {
	if pc < addr || pc-addr >= uint64(len(code)) {
		return nil
	}
	off := int(pc - addr)
	var pre []Line
	for back := min(off, 15*before); back > 0; back-- {
		lines, end := decodeRun(code[off-back:off], addr+uint64(off-back))
		if end == back && len(lines) > 0 {
			pre = lines
			break
		}
	}
	if len(pre) > before {
		pre = pre[len(pre)-before:]
	}
	out := pre
	pos := off
	for i := 0; i < after+1 && pos < len(code); i++ {
		l, n := decodeOne(code[pos:], addr+uint64(pos))
		out = append(out, l)
		if l.Err != nil {
			break
		}
		pos += n
	}
	return out
}

// decodeRun decodes b fully; end is how many bytes decoded cleanly.
func decodeRun(b []byte, addr uint64) (lines []Line, end int) {
	for end < len(b) {
		l, n := decodeOne(b[end:], addr+uint64(end))
		if l.Err != nil {
			return lines, end
		}
		lines = append(lines, l)
		end += n
	}
	return lines, end
}

func decodeOne(b []byte, addr uint64) (Line, int) {
	inst, err := x86asm.Decode(b, 64)
	if err != nil {
		n := min(1, len(b))
		return Line{Addr: addr, Bytes: b[:n], Err: err}, n
	}
	return Line{Addr: addr, Bytes: b[:inst.Len], Text: x86asm.GoSyntax(inst, addr, nil)}, inst.Len
}

// TrimFrames removes from a runtime.Stack trace the frames of functions
// whose names start with one of prefixes (the fault-reporting machinery
// itself), keeping the goroutine header and every other frame.
func TrimFrames(stack []byte, prefixes ...string) []byte {
	lines := strings.SplitAfter(string(stack), "\n")
	var out strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		drop := false
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				drop = true
			}
		}
		if drop {
			// a frame is its function line and the tab-indented file line
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
				i++
			}
			continue
		}
		out.WriteString(l)
	}
	return []byte(out.String())
}
