package virtio

import (
	"runtime"
	"testing"
	"unsafe"
)

// PhysRegs over ordinary memory: the accessors read and write the bytes
// at the right offsets with the right widths (little-endian host).
func TestPhysRegs(t *testing.T) {
	mem := make([]uint64, 4)
	r := NewPhysRegs(uintptr(unsafe.Pointer(&mem[0])))
	r.Write32(4, 0xdeadbeef)
	r.Write16(8, 0x1234)
	r.Write8(10, 0x56)
	if mem[0] != 0xdeadbeef00000000 || mem[1] != 0x561234 {
		t.Fatalf("memory %#x %#x", mem[0], mem[1])
	}
	if r.Read32(4) != 0xdeadbeef || r.Read16(8) != 0x1234 || r.Read8(10) != 0x56 || r.Read8(11) != 0 {
		t.Fatal("read back wrong")
	}
	b, addr := IdentityDMA{}.Alloc(100, 64)
	if len(b) != 100 || addr%64 != 0 || addr != uint64(uintptr(unsafe.Pointer(&b[0]))) {
		t.Fatalf("alloc: len %d addr %#x", len(b), addr)
	}
	if IdentityDMA.Map(IdentityDMA{}, b[10:]) != addr+10 {
		t.Fatal("map address wrong")
	}
	runtime.KeepAlive(mem)
}
