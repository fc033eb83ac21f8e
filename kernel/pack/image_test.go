package pack

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// testSeg is a segment of a synthetic kernel.
type testSeg struct {
	paddr uint64
	data  []byte
	memsz uint64
}

// kernelELF writes a minimal x86-64 executable with the given segments and a
// PT_NOTE holding the Xen PVH entry (noteType lets tests break it).
func kernelELF(entry uint32, noteType uint32, segs []testSeg) []byte {
	le := binary.LittleEndian
	phnum := len(segs) + 1
	noteOff := 64 + phnum*56
	off := (noteOff + 20 + 0xfff) &^ 0xfff
	var body []byte
	offs := make([]int, len(segs))
	for i, s := range segs {
		offs[i] = off + len(body)
		body = append(body, s.data...)
		for len(body)%16 != 0 {
			body = append(body, 0)
		}
	}
	out := make([]byte, off+len(body))
	copy(out, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(out[16:], uint16(elf.ET_EXEC))
	le.PutUint16(out[18:], uint16(elf.EM_X86_64))
	le.PutUint32(out[20:], 1)
	le.PutUint64(out[24:], uint64(entry))
	le.PutUint64(out[32:], 64)
	le.PutUint16(out[52:], 64)
	le.PutUint16(out[54:], 56)
	le.PutUint16(out[56:], uint16(phnum))
	le.PutUint16(out[58:], 64)
	for i, s := range segs {
		p := out[64+i*56:]
		le.PutUint32(p[0:], uint32(elf.PT_LOAD))
		le.PutUint32(p[4:], uint32(elf.PF_R|elf.PF_X))
		le.PutUint64(p[8:], uint64(offs[i]))
		le.PutUint64(p[16:], s.paddr)
		le.PutUint64(p[24:], s.paddr)
		le.PutUint64(p[32:], uint64(len(s.data)))
		le.PutUint64(p[40:], s.memsz)
		le.PutUint64(p[48:], 0x1000)
	}
	p := out[64+len(segs)*56:]
	le.PutUint32(p[0:], uint32(elf.PT_NOTE))
	le.PutUint64(p[8:], uint64(noteOff))
	le.PutUint64(p[32:], 20)
	le.PutUint64(p[40:], 20)
	le.PutUint64(p[48:], 4)
	n := out[noteOff:]
	le.PutUint32(n[0:], 4)
	le.PutUint32(n[4:], 4)
	le.PutUint32(n[8:], noteType)
	copy(n[12:], "Xen\x00")
	le.PutUint32(n[16:], entry)
	copy(out[off:], body)
	return out
}

// sampleKernel looks like ours: code, read-only data, data with bss.
func sampleKernel(t *testing.T) []byte {
	t.Helper()
	return kernelELF(0x1010100, xenElfnotePhys32, []testSeg{
		{0x1010000, textish(200000, 1), 200000},
		{0x1042000, periodic(150000, 7), 150000},
		{0x1070000, random(20000, 2), 90000},
	})
}

var (
	stubOnce sync.Once
	stub     *Stub
	stubErr  error
)

// testCC returns the C compiler the stub tests use ($CC, else gcc); without
// one the calling test is skipped (DAMSELFLY_REQUIRE_CC=1 makes that a
// failure).
func testCC(t *testing.T) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		if os.Getenv("DAMSELFLY_REQUIRE_CC") != "" {
			t.Fatalf("no C compiler: %v", err)
		}
		t.Skipf("no C compiler (%s) for the boot stub", cc)
	}
	return cc
}

// samplePacked reads the sample kernel and packs it with stub s.
func samplePacked(t *testing.T, s *Stub) (k *Kernel, img []byte, lay *Layout) {
	t.Helper()
	k, err := ReadKernel(sampleKernel(t))
	if err != nil {
		t.Fatal(err)
	}
	img, lay, err = Pack(k, s, fastPack)
	if err != nil {
		t.Fatal(err)
	}
	return k, img, lay
}

// testStub builds the stub once; without a C compiler the tests that need it
// are skipped (DAMSELFLY_REQUIRE_CC=1 makes that a failure).
func testStub(t *testing.T) *Stub {
	t.Helper()
	cc := testCC(t)
	stubOnce.Do(func() { stub, stubErr = BuildStub(cc, DefaultBase) })
	if stubErr != nil {
		t.Fatal(stubErr)
	}
	return stub
}

func TestReadKernel(t *testing.T) {
	k, err := ReadKernel(sampleKernel(t))
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != 0x1010100 || len(k.Segments) != 3 {
		t.Fatalf("entry %#x, %d segments", k.Entry, len(k.Segments))
	}
	lo, hi := k.Span()
	if lo != 0x1010000 || hi != 0x1070000+90000 {
		t.Fatalf("span [%#x-%#x)", lo, hi)
	}

	bad := []struct {
		name string
		elf  []byte
		want string
	}{
		{"no PVH note", kernelELF(0x1010100, 17, []testSeg{{0x1010000, random(100, 1), 100}}), "no Xen PVH note"},
		{"entry outside", kernelELF(0x2000000, xenElfnotePhys32, []testSeg{{0x1010000, random(100, 1), 100}}), "not inside"},
		{"overlap", kernelELF(0x1010000, xenElfnotePhys32, []testSeg{{0x1010000, random(100, 1), 0x2000}, {0x1011000, random(100, 1), 100}}), "overlap"},
		{"above 4 GiB", kernelELF(0x1010000, xenElfnotePhys32, []testSeg{{0x1010000, random(100, 1), 100}, {0xfffff000, random(100, 1), 0x2000}}), "below 4 GiB"},
		{"not ELF", []byte("hello"), "pack: kernel"},
	}
	for _, c := range bad {
		if _, err := ReadKernel(c.elf); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

// TestPackELF checks the packed image the way a PVH loader reads it.
func TestPackELF(t *testing.T) {
	s := testStub(t)
	k, img, lay := samplePacked(t, s)
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("debug/elf refuses the image: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Fatalf("%v %v %v", f.Class, f.Machine, f.Type)
	}
	var load []*elf.Prog
	var entry uint32
	notes := 0
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			load = append(load, p)
		case elf.PT_NOTE:
			e, ok, err := pvhEntry(p)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				entry = e
				notes++
			}
		}
	}
	if len(load) != 1 || notes != 1 {
		t.Fatalf("%d loaded segments and %d PVH notes, want 1 and 1", len(load), notes)
	}
	l := load[0]
	if entry != s.Entry || f.Entry != uint64(s.Entry) {
		t.Errorf("PVH entry %#x, e_entry %#x, want the stub's _start %#x", entry, f.Entry, s.Entry)
	}
	if uint64(entry) < l.Paddr || uint64(entry) >= l.Paddr+l.Filesz {
		t.Errorf("entry %#x outside the loaded bytes [%#x-%#x)", entry, l.Paddr, l.Paddr+l.Filesz)
	}
	lo, hi := k.Span()
	if l.Paddr < hi && lo < l.Paddr+l.Memsz {
		t.Errorf("packed segment [%#x-%#x) overlaps the kernel [%#x-%#x)", l.Paddr, l.Paddr+l.Memsz, lo, hi)
	}
	if l.Paddr+l.Memsz > DefaultLimit || uint32(l.Paddr+l.Memsz) != lay.End {
		t.Errorf("packed segment ends at %#x, layout says %#x, limit %#x", l.Paddr+l.Memsz, lay.End, DefaultLimit)
	}
	if l.Memsz < l.Filesz+DefaultStackSize {
		t.Errorf("memsz %#x leaves no stack after %#x file bytes", l.Memsz, l.Filesz)
	}
	// the header says the same as the layout
	h := readHeader(t, img, s)
	le := binary.LittleEndian
	if le.Uint32(h[hdrEntry:]) != k.Entry || le.Uint32(h[hdrNSeg:]) != 3 || le.Uint32(h[hdrStack:]) != lay.End {
		t.Errorf("header entry %#x nseg %d stack %#x", le.Uint32(h[hdrEntry:]), le.Uint32(h[hdrNSeg:]), le.Uint32(h[hdrStack:]))
	}

	if err := Verify(img, k); err != nil {
		t.Fatal(err)
	}
	if len(img) >= len(sampleKernel(t)) {
		t.Errorf("packed %d bytes, input %d", len(img), len(sampleKernel(t)))
	}
}

// readHeader returns the header bytes in the packed image.
func readHeader(t *testing.T, img []byte, s *Stub) []byte {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			return img[p.Off+uint64(s.Header-s.Base):]
		}
	}
	t.Fatal("no PT_LOAD")
	return nil
}

// TestPackCorrupt: damage anywhere in the table or the payload must be
// caught by the sum before any decoding.
func TestPackCorrupt(t *testing.T) {
	s := testStub(t)
	_, img, lay := samplePacked(t, s)
	h := readHeader(t, img, s)
	hdrOff := len(img) - len(h)
	tableOff := hdrOff + headerSize
	end := tableOff + 3*segRecordSize + int(lay.Payload)
	for _, at := range []int{tableOff, tableOff + 7, tableOff + 3*segRecordSize, (tableOff + end) / 2, end - 1} {
		bad := append([]byte(nil), img...)
		bad[at] ^= 0x40
		if _, err := Unpack(bad); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Errorf("byte %d flipped: %v, want a checksum mismatch", at, err)
		}
	}
	// two words swapped keep a plain sum but not the positional one
	bad := append([]byte(nil), img...)
	p := (tableOff + end) / 2 &^ 3
	copy(bad[p:p+4], img[p+4:p+8])
	copy(bad[p+4:p+8], img[p:p+4])
	if !bytes.Equal(bad, img) {
		if _, err := Unpack(bad); err == nil {
			t.Error("swapped words not detected")
		}
	}
}

func TestPackRefuses(t *testing.T) {
	s := testStub(t)
	low, err := ReadKernel(kernelELF(0x101100, xenElfnotePhys32, []testSeg{{0x101000, random(1000, 3), 1000}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Pack(low, s, fastPack); err == nil || !strings.Contains(err.Error(), "overlaps the kernel") {
		t.Errorf("kernel inside the packed segment: %v", err)
	}
	k, err := ReadKernel(sampleKernel(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Pack(k, s, Options{Limit: DefaultBase + 0x1000, Compress: fastPack.Compress}); err == nil || !strings.Contains(err.Error(), "passes the limit") {
		t.Errorf("tiny limit: %v", err)
	}
	if _, _, err := Pack(k, s, Options{Base: 0x200000, Compress: fastPack.Compress}); err == nil || !strings.Contains(err.Error(), "linked at") {
		t.Errorf("stub linked elsewhere: %v", err)
	}
}

func TestParseStubRefuses(t *testing.T) {
	if _, err := ParseStub([]byte("not an elf")); err == nil {
		t.Error("garbage accepted")
	}
	// a 64-bit ELF is not a stub
	if _, err := ParseStub(sampleKernel(t)); err == nil || !strings.Contains(err.Error(), "32-bit") {
		t.Errorf("64-bit kernel as stub: %v", err)
	}
}

func TestSum(t *testing.T) {
	a, b := Sum([]byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0})
	if a != 6 || b != 1+3+6 {
		t.Errorf("Sum = %d, %d; want 6, 10", a, b)
	}
	a, b = Sum([]byte{0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0})
	if a != 1 || b != 0 { // b = 0xffffffff + 1 wraps
		t.Errorf("Sum wraps: %#x, %#x", a, b)
	}
}

// FuzzUnpack: arbitrary files given to Unpack (mkimage's verifier) must be
// refused or unpacked, never crash it.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte("\x7fELF"))
	f.Add(kernelELF(0x1010100, xenElfnotePhys32, []testSeg{{0x1010000, random(64, 1), 64}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		Unpack(b)
		ReadKernel(b)
	})
}

// fastPack keeps the tests quick under -race: the depth changes the size,
// not the format.
var fastPack = Options{Compress: CompressOptions{Depth: 16}}
