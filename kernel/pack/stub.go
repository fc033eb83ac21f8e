// The boot stub: its sources (stub/), built with the host's C compiler when
// an image is packed, and read back from the resulting ELF.

package pack

import (
	"bytes"
	"debug/elf"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed stub/entry.S stub/unpack.c stub/header.h stub/stub.ld
var stubSources embed.FS

// Stub is the linked boot stub.
type Stub struct {
	Base   uint32 // physical address of Code[0] (the link address)
	Code   []byte // the bytes loaded at Base, up to Header
	Entry  uint32 // _start: the packed image's PVH entry
	Header uint32 // pack_header: where the header goes, Base+len(Code)
}

// stubCFlags build freestanding 32-bit code without SSE (CR4.OSFXSR is clear
// at the PVH entry), without calls to memcpy/memset the compiler might
// invent, and without sections that would have to be loaded or zeroed.
var stubCFlags = []string{
	"-m32", "-O2", "-ffreestanding", "-fno-pic", "-fno-pie", "-no-pie", "-static", "-nostdlib",
	"-fno-builtin", "-fno-tree-loop-distribute-patterns", "-mgeneral-regs-only",
	"-fno-asynchronous-unwind-tables", "-fno-stack-protector", "-Wall", "-Werror",
	"-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
}

// BuildStub compiles the stub for base with cc (e.g. "gcc") in a temporary
// directory and returns it.
func BuildStub(cc string, base uint32) (*Stub, error) {
	if cc == "" {
		cc = "gcc"
	}
	dir, err := os.MkdirTemp("", "damselfly-stub-")
	if err != nil {
		return nil, fmt.Errorf("pack: stub: %w", err)
	}
	defer os.RemoveAll(dir)
	names := []string{"entry.S", "unpack.c", "header.h", "stub.ld"}
	for _, n := range names {
		b, err := stubSources.ReadFile("stub/" + n)
		if err != nil {
			return nil, fmt.Errorf("pack: stub: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return nil, fmt.Errorf("pack: stub: %w", err)
		}
	}
	out := filepath.Join(dir, "stub.elf")
	args := append([]string{}, stubCFlags...)
	args = append(args,
		"-Wl,-T,stub.ld", fmt.Sprintf("-Wl,--defsym,STUB_BASE=%#x", base),
		"-o", out, "entry.S", "unpack.c")
	cmd := exec.Command(cc, args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pack: building the stub with %s: %v\n%s", cc, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("pack: stub: %w", err)
	}
	return ParseStub(b)
}

// ParseStub reads a linked stub: one contiguous run of loaded bytes, no bss,
// and the symbols _start and pack_header.
func ParseStub(b []byte) (*Stub, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("pack: stub: %w", err)
	}
	if f.Class != elf.ELFCLASS32 || f.Machine != elf.EM_386 {
		return nil, fmt.Errorf("pack: stub: %v %v, want a 32-bit i386 ELF", f.Class, f.Machine)
	}
	var load []*elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Memsz > 0 {
			load = append(load, p)
		}
	}
	if len(load) != 1 {
		return nil, fmt.Errorf("pack: stub: %d loaded segments, want 1", len(load))
	}
	p := load[0]
	if p.Memsz != p.Filesz {
		return nil, errors.New("pack: stub: has bss; the header must follow its last loaded byte")
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("pack: stub: symbols: %w", err)
	}
	s := &Stub{Base: uint32(p.Paddr)}
	var haveEntry, haveHeader bool
	for _, sym := range syms {
		switch sym.Name {
		case "_start":
			s.Entry, haveEntry = uint32(sym.Value), true
		case "pack_header":
			s.Header, haveHeader = uint32(sym.Value), true
		}
	}
	if !haveEntry || !haveHeader {
		return nil, errors.New("pack: stub: missing _start or pack_header")
	}
	end := p.Paddr + p.Filesz
	if uint64(s.Header) < end || uint64(s.Header)-end >= 16 || s.Header%16 != 0 {
		return nil, fmt.Errorf("pack: stub: pack_header %#x is not the 16-aligned end of the code (%#x)", s.Header, end)
	}
	if uint64(s.Entry) < p.Paddr || uint64(s.Entry) >= end {
		return nil, fmt.Errorf("pack: stub: _start %#x outside the code", s.Entry)
	}
	code := make([]byte, s.Header-s.Base)
	if _, err := p.ReadAt(code[:p.Filesz], 0); err != nil {
		return nil, fmt.Errorf("pack: stub: %w", err)
	}
	s.Code = code
	return s, nil
}
