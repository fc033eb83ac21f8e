// CPU exceptions: the stubs in io_amd64.s save the machine state here and
// make the faulting goroutine "call" faultReport, which hands a copy to the
// kernel's handler.

//go:build tamago && amd64

package microvm

import (
	"runtime"
	"unsafe"
)

// FaultRegs is the saved state; its layout is fixed by the R_* offsets in
// io_amd64.s.
type FaultRegs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS, CS, SS, CR2               uint64
	Vector, ErrorCode                      uint64
}

// faultRegs and faulting are written by excCommon with interrupts off;
// faulting (set by an atomic exchange) makes the first fault the owner of
// faultRegs, and is never cleared: a fault is fatal.
var (
	faultRegs FaultRegs
	faulting  uint64
)

// Fault is what the handler receives.
type Fault struct {
	Regs     FaultRegs
	CPU      uint32 // LAPIC id
	Code     []byte // memory around RIP
	CodeAddr uint64
	Stack    []byte // the faulting goroutine's stack trace
}

// FaultHandler is called with the fault on the faulting goroutine; it must
// not return (the kernel prints the report and powers off). Set once by the
// kernel during boot.
var FaultHandler func(f *Fault)

// Bytes of code shown before and after RIP.
const codeBefore, codeAfter = 48, 32

func faultReport() {
	f := &Fault{Regs: faultRegs, CPU: LAPICID()}
	start := f.Regs.RIP - codeBefore
	if f.Regs.RIP >= uint64(ramStart)+codeBefore && f.Regs.RIP+codeAfter <= uint64(ramStart+ramSize) {
		f.Code = make([]byte, codeBefore+codeAfter)
		copy(f.Code, unsafe.Slice((*byte)(unsafe.Pointer(uintptr(start))), len(f.Code)))
		f.CodeAddr = start
	}
	buf := make([]byte, 16<<10)
	f.Stack = buf[:runtime.Stack(buf, false)]
	if FaultHandler != nil {
		FaultHandler(f)
	}
	print("panic: cpu exception ", f.Regs.Vector, " at rip ", hex(f.Regs.RIP).String(), " cr2 ", hex(f.Regs.CR2).String(), "\n")
	PowerOff(false)
}

type hex uint64

func (h hex) String() string {
	const d = "0123456789abcdef"
	var b [18]byte
	b[0], b[1] = '0', 'x'
	for i := 0; i < 16; i++ {
		b[17-i] = d[h>>(4*i)&0xf]
	}
	return string(b[:])
}

// Interrupt gate layout (Intel SDM vol. 3A, 6.14.1 "64-Bit Mode IDT").
const (
	gateSize         = 16
	gateInterrupt    = 0x8e // present, DPL 0, 64-bit interrupt gate
	kernelCodeSelect = 0x08
	idtBase          = 0xe44000 // layout.h IDT
)

// installFaultGates points the fault vectors at our stubs, over the gates
// the tamago amd64 package wrote (it reuses our IDT, see cpuinit).
func installFaultGates() {
	for i, v := range excVectors {
		setGate(v, uint64(excStubAddr(i)))
	}
}

// setGate writes an interrupt gate for vector v.
func setGate(v int, addr uint64) {
	{
		g := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(idtBase+v*gateSize))), gateSize)
		g[0], g[1] = byte(addr), byte(addr>>8)
		g[2], g[3] = kernelCodeSelect, 0
		g[4], g[5] = 0, gateInterrupt
		g[6], g[7] = byte(addr>>16), byte(addr>>24)
		g[8], g[9], g[10], g[11] = byte(addr>>32), byte(addr>>40), byte(addr>>48), byte(addr>>56)
		g[12], g[13], g[14], g[15] = 0, 0, 0, 0
	}
}
