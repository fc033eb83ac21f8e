package pci

import (
	"errors"
	"fmt"
)

// BAR is one decoded base address register (PCI 3.0, 6.2.5.1).
type BAR struct {
	Index    int    // 0-5; a 64-bit BAR takes Index and Index+1
	Addr     uint64 // as the firmware or VMM assigned it
	Size     uint64
	IO       bool
	Mem64    bool
	Prefetch bool
}

func (b BAR) String() string {
	kind := "mem32"
	switch {
	case b.IO:
		kind = "io"
	case b.Mem64:
		kind = "mem64"
	}
	return fmt.Sprintf("bar%d %s [%#x-%#x)", b.Index, kind, b.Addr, b.Addr+b.Size)
}

const (
	barIO       = 1 << 0
	barTypeMask = 3 << 1
	barType64   = 2 << 1
	barPrefetch = 1 << 3
	barNum      = 6
)

// ReadBARs sizes the BARs of a type 0 function: with its I/O and memory
// decoders off (so the all-ones probe never decodes as an address), write
// all ones, read the mask back, restore (PCI 3.0, 6.2.5.1 "Implementation
// note: sizing a 32-bit base address register"). BARs the device does not
// implement are left out, as are memory BARs the firmware left at 0.
func ReadBARs(cs ConfigSpace, f BDF) ([]BAR, error) {
	if h := Read8(cs, f, HeaderType) & HeaderMask; h != HeaderNormal {
		return nil, fmt.Errorf("pci %v: header type %d has no device BARs", f, h)
	}
	cmd := Read16(cs, f, Command)
	cs.Write16(f, Command, cmd&^(CmdIO|CmdMemory))
	defer cs.Write16(f, Command, cmd)

	var bars []BAR
	for i := 0; i < barNum; i++ {
		off := uint16(BAR0 + 4*i)
		lo := cs.Read32(f, off)
		cs.Write32(f, off, 0xffffffff)
		mlo := cs.Read32(f, off)
		cs.Write32(f, off, lo)
		b := BAR{Index: i}
		switch {
		case lo&barIO != 0:
			m := mlo&^3 | 0xffff0000 // I/O decoders may implement 16 bits only
			if mlo&^3 == 0 {
				continue
			}
			b.IO, b.Addr, b.Size = true, uint64(lo&^3), uint64(^m+1)
		case lo&barTypeMask == barType64:
			if i == barNum-1 {
				return nil, fmt.Errorf("pci %v: 64-bit BAR %d has no upper half", f, i)
			}
			hoff := off + 4
			hi := cs.Read32(f, hoff)
			cs.Write32(f, hoff, 0xffffffff)
			mhi := cs.Read32(f, hoff)
			cs.Write32(f, hoff, hi)
			m := uint64(mhi)<<32 | uint64(mlo&^0xf)
			i++ // the upper half is not a BAR of its own
			if m == 0 {
				continue
			}
			b.Mem64, b.Addr, b.Size = true, uint64(hi)<<32|uint64(lo&^0xf), ^m+1
			b.Prefetch = lo&barPrefetch != 0
		default:
			m := mlo &^ 0xf
			if m == 0 {
				continue
			}
			b.Addr, b.Size = uint64(lo&^0xf), uint64(^m+1)
			b.Prefetch = lo&barPrefetch != 0
		}
		if b.Size == 0 || b.Size&(b.Size-1) != 0 {
			return nil, fmt.Errorf("pci %v: BAR %d: size mask gives %#x, not a power of two", f, b.Index, b.Size)
		}
		if !b.IO && b.Addr == 0 {
			continue // not assigned: nothing decodes there
		}
		if b.Addr&(b.Size-1) != 0 || b.Addr+b.Size < b.Addr {
			return nil, fmt.Errorf("pci %v: %v is not aligned to its size", f, b)
		}
		bars = append(bars, b)
	}
	return bars, nil
}

// Enable turns on the function's memory decoder and bus mastering (it
// reads and writes guest memory for virtqueues) and leaves INTx as it is.
func Enable(cs ConfigSpace, f BDF) {
	cmd := Read16(cs, f, Command)
	cs.Write16(f, Command, cmd|CmdMemory|CmdBusMaster)
}

// ErrNoBAR is returned by FindBAR for a BAR the function does not have.
var ErrNoBAR = errors.New("pci: no such BAR")

// FindBAR returns the BAR with index i.
func FindBAR(bars []BAR, i int) (BAR, error) {
	for _, b := range bars {
		if b.Index == i {
			return b, nil
		}
	}
	return BAR{}, fmt.Errorf("%w %d", ErrNoBAR, i)
}
