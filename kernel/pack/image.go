// Package pack turns a kernel ELF into a smaller bootable ELF: the boot stub
// (stub/) followed by the kernel's loadable segments, each compressed as an
// LZ4 block, in one segment that a PVH loader (QEMU -kernel, Firecracker,
// Cloud Hypervisor) loads and enters through the image's Xen
// XEN_ELFNOTE_PHYS32_ENTRY note. The stub checks the payload, decompresses
// every segment to its physical address, clears the bss and enters the
// kernel's own PVH entry with EBX (start_info) unchanged; this is what
// Linux's vmlinuz does with its decompressor.
//
// Layout of the packed segment, from Options.Base (1 MiB by default):
//
//	stub code | header (stub/header.h) | segment table | payload | stack
//
// It sits below the kernel, not after it: the Go runtime takes the memory
// after the kernel's image for its heap and assumes it is zero (sbrk'd
// arenas are not cleared), so the payload must not be left there. Below 14
// MiB (Options.Limit: the board's boot area, board/microvm/layout.h) the
// kernel keeps nothing; once it runs, the packed segment is dead memory.
package pack

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// Header layout (stub/header.h).
const (
	headerMagic   = 0x4b504644 // "DFPK"
	headerVersion = 1
	headerSize    = 48
	segRecordSize = 24
	maxSegments   = 16 // the stub's MAX_SEGMENTS

	hdrMagic   = 0
	hdrVersion = 4
	hdrEntry   = 8
	hdrNSeg    = 12
	hdrPayload = 16
	hdrPayLen  = 20
	hdrSumA    = 24
	hdrSumB    = 28
	hdrStack   = 32

	segDst   = 0
	segSrc   = 4
	segCSize = 8
	segDSize = 12
	segZero  = 16
	segFlags = 20

	segfCalls = 1 // SEGF_CALLS: bcjEncode was applied
)

// Xen ELF note (xen/include/public/elfnote.h).
const (
	xenNoteName       = "Xen"
	xenElfnotePhys32  = 18 // XEN_ELFNOTE_PHYS32_ENTRY: 32-bit physical entry
	noteHeaderSize    = 12 // namesz, descsz, type
	elfHeaderSize     = 64
	programHeaderSize = 56
)

// Defaults of Options.
const (
	DefaultBase      = 0x100000 // 1 MiB
	DefaultLimit     = 0xe00000 // board/microvm/layout.h BOARD_AREA
	DefaultStackSize = 4096
)

// Options place the packed segment.
type Options struct {
	Base      uint32 // physical address of the stub; the stub must be linked for it
	Limit     uint32 // the packed segment (with its stack) must end at or below it
	StackSize uint32 // the stub's stack, after the payload (at least DefaultStackSize)
	Compress  CompressOptions
	// NoCallFilter leaves executable segments unfiltered (bcj.go).
	NoCallFilter bool
}

func (o *Options) defaults() {
	if o.Base == 0 {
		o.Base = DefaultBase
	}
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	// The stack also guarantees the stub's decoder a readable byte after
	// every block (stub/unpack.c: fast).
	if o.StackSize < DefaultStackSize {
		o.StackSize = DefaultStackSize
	}
}

// Segment is one loadable segment of a kernel.
type Segment struct {
	Paddr uint64
	Data  []byte // p_filesz bytes
	Memsz uint64
	Exec  bool // PF_X: machine code, given the CALL filter (bcj.go)
}

// Kernel is what a PVH loader needs from a kernel ELF.
type Kernel struct {
	Entry    uint32 // XEN_ELFNOTE_PHYS32_ENTRY
	Segments []Segment
}

// Span is the physical range the kernel's segments occupy.
func (k *Kernel) Span() (lo, hi uint64) {
	lo = ^uint64(0)
	for _, s := range k.Segments {
		lo = min(lo, s.Paddr)
		hi = max(hi, s.Paddr+s.Memsz)
	}
	return lo, hi
}

// ReadKernel parses a kernel ELF: a 64-bit x86 executable with a PVH note
// and loadable segments below 4 GiB that do not overlap.
func ReadKernel(b []byte) (*Kernel, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("pack: kernel: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("pack: kernel: %v %v %v, want an x86-64 executable", f.Class, f.Machine, f.Type)
	}
	k := &Kernel{}
	var haveEntry bool
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_NOTE:
			if p.Off > uint64(len(b)) || p.Filesz > uint64(len(b))-p.Off {
				return nil, errors.New("pack: kernel: note segment past the end of the file")
			}
			if e, ok, err := pvhEntry(p); err != nil {
				return nil, err
			} else if ok {
				k.Entry, haveEntry = e, true
			}
		case elf.PT_LOAD:
			if p.Memsz == 0 {
				continue
			}
			if p.Filesz > p.Memsz || p.Paddr+p.Memsz < p.Paddr || p.Paddr+p.Memsz > 1<<32 {
				return nil, fmt.Errorf("pack: kernel: segment at %#x (file %#x, memory %#x) is not loadable below 4 GiB", p.Paddr, p.Filesz, p.Memsz)
			}
			if p.Off > uint64(len(b)) || p.Filesz > uint64(len(b))-p.Off {
				return nil, fmt.Errorf("pack: kernel: segment at %#x: %d bytes at file offset %#x, past the end of the file", p.Paddr, p.Filesz, p.Off)
			}
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				return nil, fmt.Errorf("pack: kernel: segment at %#x: %w", p.Paddr, err)
			}
			k.Segments = append(k.Segments, Segment{Paddr: p.Paddr, Data: data, Memsz: p.Memsz, Exec: p.Flags&elf.PF_X != 0})
		}
	}
	if !haveEntry {
		return nil, errors.New("pack: kernel: no Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY): not bootable through PVH")
	}
	if len(k.Segments) == 0 || len(k.Segments) > maxSegments {
		return nil, fmt.Errorf("pack: kernel: %d loadable segments, want 1..%d", len(k.Segments), maxSegments)
	}
	for i, a := range k.Segments {
		for _, b := range k.Segments[i+1:] {
			if a.Paddr < b.Paddr+b.Memsz && b.Paddr < a.Paddr+a.Memsz {
				return nil, fmt.Errorf("pack: kernel: segments at %#x and %#x overlap", a.Paddr, b.Paddr)
			}
		}
	}
	entryInside := false
	for _, s := range k.Segments {
		if uint64(k.Entry) >= s.Paddr && uint64(k.Entry) < s.Paddr+uint64(len(s.Data)) {
			entryInside = true
		}
	}
	if !entryInside {
		return nil, fmt.Errorf("pack: kernel: PVH entry %#x is not inside a loaded segment", k.Entry)
	}
	return k, nil
}

// pvhEntry finds XEN_ELFNOTE_PHYS32_ENTRY among the notes of p.
func pvhEntry(p *elf.Prog) (uint32, bool, error) {
	if p.Filesz > 1<<20 {
		return 0, false, fmt.Errorf("pack: kernel: note segment of %d bytes", p.Filesz)
	}
	b := make([]byte, p.Filesz)
	if _, err := p.ReadAt(b, 0); err != nil {
		return 0, false, fmt.Errorf("pack: kernel: notes: %w", err)
	}
	le := binary.LittleEndian
	for len(b) >= noteHeaderSize {
		namesz, descsz, typ := le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])
		nameEnd := noteHeaderSize + align4(uint64(namesz))
		descEnd := nameEnd + align4(uint64(descsz))
		if descEnd > uint64(len(b)) {
			return 0, false, errors.New("pack: kernel: truncated ELF note")
		}
		name := b[noteHeaderSize : noteHeaderSize+uint64(namesz)]
		desc := b[nameEnd : nameEnd+uint64(descsz)]
		if string(bytes.TrimRight(name, "\x00")) == xenNoteName && typ == xenElfnotePhys32 {
			switch descsz {
			case 4:
				return le.Uint32(desc), true, nil
			case 8:
				v := le.Uint64(desc)
				if v >= 1<<32 {
					return 0, false, fmt.Errorf("pack: kernel: PVH entry %#x above 4 GiB", v)
				}
				return uint32(v), true, nil
			}
			return 0, false, fmt.Errorf("pack: kernel: PVH note descriptor of %d bytes", descsz)
		}
		b = b[descEnd:]
	}
	return 0, false, nil
}

func align4(v uint64) uint64 { return (v + 3) &^ 3 }

// Layout describes a packed image.
type Layout struct {
	Base, End       uint32 // the packed segment in memory, stack included
	KernelLo        uint64 // the kernel's span
	KernelHi        uint64
	Entry           uint32 // the stub's entry
	KernelEntry     uint32
	Payload         uint32 // compressed bytes (padded to 4)
	Unpacked        uint64 // the kernel's file bytes
	CompressedSizes []int
}

// Pack builds the packed ELF of kernel with stub.
func Pack(k *Kernel, stub *Stub, opt Options) ([]byte, *Layout, error) {
	opt.defaults()
	if stub.Base != opt.Base {
		return nil, nil, fmt.Errorf("pack: the stub is linked at %#x, the image wants it at %#x", stub.Base, opt.Base)
	}
	n := len(k.Segments)
	if n == 0 || n > maxSegments {
		return nil, nil, fmt.Errorf("pack: %d segments, want 1..%d", n, maxSegments)
	}
	blocks := make([][]byte, n)
	var payLen uint64
	flags := make([]uint32, n)
	for i, s := range k.Segments {
		data := s.Data
		if s.Exec && !opt.NoCallFilter {
			data = append([]byte(nil), data...)
			bcjEncode(data, uint32(s.Paddr))
			flags[i] |= segfCalls
		}
		blocks[i] = Compress(data, opt.Compress)
		payLen += uint64(len(blocks[i]))
	}
	payLen = align4(payLen)

	table := uint64(stub.Header) + headerSize
	payload := table + uint64(n)*segRecordSize
	fileEnd := payload + payLen
	stackTop := (fileEnd+15)&^15 + uint64(opt.StackSize)
	lo, hi := k.Span()
	lay := &Layout{
		Base: opt.Base, End: uint32(stackTop), KernelLo: lo, KernelHi: hi,
		Entry: stub.Entry, KernelEntry: k.Entry, Payload: uint32(payLen),
	}
	if stackTop > uint64(opt.Limit) {
		return nil, nil, fmt.Errorf("pack: the packed segment [%#x-%#x) passes the limit %#x: %d bytes of compressed kernel", opt.Base, stackTop, opt.Limit, payLen)
	}
	if uint64(opt.Base) < hi && lo < stackTop {
		return nil, nil, fmt.Errorf("pack: the packed segment [%#x-%#x) overlaps the kernel [%#x-%#x)", opt.Base, stackTop, lo, hi)
	}

	// segment contents: stub, header, table, payload
	seg := make([]byte, fileEnd-uint64(opt.Base))
	copy(seg, stub.Code)
	le := binary.LittleEndian
	h := seg[stub.Header-opt.Base:]
	le.PutUint32(h[hdrMagic:], headerMagic)
	le.PutUint32(h[hdrVersion:], headerVersion)
	le.PutUint32(h[hdrEntry:], k.Entry)
	le.PutUint32(h[hdrNSeg:], uint32(n))
	le.PutUint32(h[hdrPayload:], uint32(payload))
	le.PutUint32(h[hdrPayLen:], uint32(payLen))
	le.PutUint32(h[hdrStack:], uint32(stackTop))
	src := payload
	for i, s := range k.Segments {
		r := seg[table-uint64(opt.Base)+uint64(i)*segRecordSize:]
		le.PutUint32(r[segDst:], uint32(s.Paddr))
		le.PutUint32(r[segSrc:], uint32(src))
		le.PutUint32(r[segCSize:], uint32(len(blocks[i])))
		le.PutUint32(r[segDSize:], uint32(len(s.Data)))
		le.PutUint32(r[segZero:], uint32(s.Memsz-uint64(len(s.Data))))
		le.PutUint32(r[segFlags:], flags[i])
		copy(seg[src-uint64(opt.Base):], blocks[i])
		src += uint64(len(blocks[i]))
		lay.Unpacked += uint64(len(s.Data))
		lay.CompressedSizes = append(lay.CompressedSizes, len(blocks[i]))
	}
	a, b := Sum(seg[table-uint64(opt.Base):])
	le.PutUint32(h[hdrSumA:], a)
	le.PutUint32(h[hdrSumB:], b)

	return writeELF(seg, opt.Base, uint64(stackTop-uint64(opt.Base)), stub.Entry), lay, nil
}

// writeELF lays out the packed ELF: header, a PT_LOAD of seg at base with
// memsz bytes in memory, and a PT_NOTE with the PVH entry note.
func writeELF(seg []byte, base uint32, memsz uint64, entry uint32) []byte {
	const (
		phnum     = 2
		noteOff   = elfHeaderSize + phnum*programHeaderSize
		noteSize  = noteHeaderSize + 4 + 4 // name "Xen\0", 4-byte entry
		segOff    = (noteOff + noteSize + 15) &^ 15
		loadAlign = 16
	)
	out := make([]byte, segOff+len(seg))
	le := binary.LittleEndian

	// ELF header (System V ABI, "ELF Header"; AMD64 psABI for the machine)
	copy(out, []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	le.PutUint16(out[16:], uint16(elf.ET_EXEC))
	le.PutUint16(out[18:], uint16(elf.EM_X86_64))
	le.PutUint32(out[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(out[24:], uint64(entry)) // e_entry
	le.PutUint64(out[32:], elfHeaderSize) // e_phoff
	le.PutUint64(out[40:], 0)             // e_shoff: no sections
	le.PutUint32(out[48:], 0)             // e_flags
	le.PutUint16(out[52:], elfHeaderSize)
	le.PutUint16(out[54:], programHeaderSize)
	le.PutUint16(out[56:], phnum)
	le.PutUint16(out[58:], 64) // e_shentsize
	le.PutUint16(out[60:], 0)  // e_shnum
	le.PutUint16(out[62:], 0)  // e_shstrndx

	ph := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, addr, filesz, memsz, align uint64) {
		p := out[elfHeaderSize+i*programHeaderSize:]
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint32(p[4:], uint32(flags))
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], addr) // p_vaddr
		le.PutUint64(p[24:], addr) // p_paddr
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		le.PutUint64(p[48:], align)
	}
	ph(0, elf.PT_LOAD, elf.PF_R|elf.PF_W|elf.PF_X, segOff, uint64(base), uint64(len(seg)), memsz, loadAlign)
	ph(1, elf.PT_NOTE, elf.PF_R, noteOff, 0, noteSize, noteSize, 4)

	n := out[noteOff:]
	le.PutUint32(n[0:], uint32(len(xenNoteName)+1))
	le.PutUint32(n[4:], 4)
	le.PutUint32(n[8:], xenElfnotePhys32)
	copy(n[12:], xenNoteName)
	le.PutUint32(n[16:], entry)

	copy(out[segOff:], seg)
	return out
}

// Sum is the stub's payload_sum (stub/unpack.c): over little-endian 32-bit
// words, a is their sum and b the sum of the running values of a, both
// modulo 2^32. len(b) must be a multiple of 4.
func Sum(p []byte) (a, b uint32) {
	for i := 0; i+4 <= len(p); i += 4 {
		a += binary.LittleEndian.Uint32(p[i:])
		b += a
	}
	return a, b
}

// Unpack reverses Pack on the host, checking what the stub checks: it finds
// the header in the packed segment, verifies the sum and decodes every
// segment. mkimage runs it on each image it writes.
func Unpack(packed []byte) (*Kernel, error) {
	f, err := elf.NewFile(bytes.NewReader(packed))
	if err != nil {
		return nil, fmt.Errorf("pack: packed image: %w", err)
	}
	var load *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			if load != nil {
				return nil, errors.New("pack: packed image: more than one loaded segment")
			}
			load = p
		}
	}
	if load == nil {
		return nil, errors.New("pack: packed image: no loaded segment")
	}
	if load.Off > uint64(len(packed)) || load.Filesz > uint64(len(packed))-load.Off {
		return nil, errors.New("pack: packed image: loaded segment past the end of the file")
	}
	seg := make([]byte, load.Filesz)
	if _, err := load.ReadAt(seg, 0); err != nil {
		return nil, fmt.Errorf("pack: packed image: %w", err)
	}
	base := load.Paddr
	le := binary.LittleEndian
	for off := 0; off+headerSize <= len(seg); off += 16 {
		h := seg[off:]
		if le.Uint32(h[hdrMagic:]) != headerMagic || le.Uint32(h[hdrVersion:]) != headerVersion {
			continue
		}
		n := uint64(le.Uint32(h[hdrNSeg:]))
		table := base + uint64(off) + headerSize
		if n == 0 || n > maxSegments || uint64(le.Uint32(h[hdrPayload:])) != table+n*segRecordSize {
			continue
		}
		return unpackAt(seg, base, h, table, n)
	}
	return nil, errors.New("pack: packed image: no header found")
}

func unpackAt(seg []byte, base uint64, h []byte, table, n uint64) (*Kernel, error) {
	le := binary.LittleEndian
	payload := uint64(le.Uint32(h[hdrPayload:]))
	payLen := uint64(le.Uint32(h[hdrPayLen:]))
	if payLen%4 != 0 || payload+payLen > base+uint64(len(seg)) {
		return nil, fmt.Errorf("pack: packed image: payload [%#x+%#x) outside the segment", payload, payLen)
	}
	a, b := Sum(seg[table-base : payload+payLen-base])
	if a != le.Uint32(h[hdrSumA:]) || b != le.Uint32(h[hdrSumB:]) {
		return nil, fmt.Errorf("pack: packed image: checksum mismatch (%#x,%#x), header says (%#x,%#x)", a, b, le.Uint32(h[hdrSumA:]), le.Uint32(h[hdrSumB:]))
	}
	k := &Kernel{Entry: le.Uint32(h[hdrEntry:])}
	for i := uint64(0); i < n; i++ {
		r := seg[table-base+i*segRecordSize:]
		src, csize := uint64(le.Uint32(r[segSrc:])), uint64(le.Uint32(r[segCSize:]))
		dsize := uint64(le.Uint32(r[segDSize:]))
		if src < payload || src+csize > payload+payLen {
			return nil, fmt.Errorf("pack: packed image: segment %d outside the payload", i)
		}
		// an LZ4 block expands at most about 255 times (a run's
		// extension bytes add 255 each): refuse sizes no block can
		// reach before allocating them
		if dsize > csize*extByteMax+16 {
			return nil, fmt.Errorf("pack: packed image: segment %d: %d bytes from a %d-byte block", i, dsize, csize)
		}
		data := make([]byte, dsize)
		if err := Decode(data, seg[src-base:src+csize-base]); err != nil {
			return nil, fmt.Errorf("pack: packed image: segment %d: %w", i, err)
		}
		paddr := le.Uint32(r[segDst:])
		f := le.Uint32(r[segFlags:])
		if f&^segfCalls != 0 {
			return nil, fmt.Errorf("pack: packed image: segment %d: unknown flags %#x", i, f)
		}
		if f&segfCalls != 0 {
			bcjDecode(data, paddr)
		}
		k.Segments = append(k.Segments, Segment{
			Paddr: uint64(paddr),
			Data:  data,
			Memsz: dsize + uint64(le.Uint32(r[segZero:])),
			Exec:  f&segfCalls != 0,
		})
	}
	return k, nil
}

// Verify unpacks img on the host and compares it with k, the kernel it was
// packed from.
func Verify(img []byte, k *Kernel) error {
	u, err := Unpack(img)
	if err != nil {
		return err
	}
	if u.Entry != k.Entry || len(u.Segments) != len(k.Segments) {
		return fmt.Errorf("pack: verify: entry %#x and %d segments, want %#x and %d", u.Entry, len(u.Segments), k.Entry, len(k.Segments))
	}
	for i, s := range k.Segments {
		g := u.Segments[i]
		if g.Paddr != s.Paddr || g.Memsz != s.Memsz || !bytes.Equal(g.Data, s.Data) {
			return fmt.Errorf("pack: verify: segment %d at %#x differs", i, s.Paddr)
		}
	}
	return nil
}
