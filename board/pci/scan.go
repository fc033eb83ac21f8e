package pci

import "fmt"

// Function is one PCI function found by Scan.
type Function struct {
	BDF
	Vendor, Device   uint16
	Revision         uint8
	Class            uint32 // class << 16 | subclass << 8 | prog-if
	Header           uint8  // header type without the multi-function bit
	SubVendor, SubID uint16 // type 0 only
	IRQLine, IRQPin  uint8
	Secondary        uint8 // type 1: the bus behind the bridge
}

func (f Function) String() string {
	return fmt.Sprintf("%v %04x:%04x class %06x", f.BDF, f.Vendor, f.Device, f.Class)
}

// maxFunctions bounds a scan: 256 buses of 32 devices of 8 functions.
const maxFunctions = 256 * 32 * 8

// Scan walks the first bus the access method reaches and every bus behind
// a PCI-to-PCI bridge found on the way, depth first, each bus once. It
// only reads. Anomalies that do not stop the walk (a bridge whose
// secondary bus is not below it, a bus seen twice) come back as warnings.
func Scan(cs ConfigSpace) (fns []Function, warnings []error) {
	first, last := cs.Buses()
	seen := map[uint8]bool{first: true}
	queue := []uint8{first}
	for len(queue) > 0 && len(fns) < maxFunctions {
		bus := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for dev := uint8(0); dev < 32; dev++ {
			f0 := BDF{bus, dev, 0}
			if Read16(cs, f0, VendorID) == NoVendor {
				continue
			}
			nfn := uint8(1)
			if Read8(cs, f0, HeaderType)&HeaderMultiFn != 0 {
				nfn = 8
			}
			for fn := uint8(0); fn < nfn; fn++ {
				f, ok := readFunction(cs, BDF{bus, dev, fn})
				if !ok {
					continue
				}
				fns = append(fns, f)
				if f.Header != HeaderBridge {
					continue
				}
				switch s := f.Secondary; {
				case s <= bus || s < first || s > last:
					warnings = append(warnings, fmt.Errorf("pci: bridge %v: secondary bus %d not behind bus %d", f.BDF, s, bus))
				case seen[s]:
					warnings = append(warnings, fmt.Errorf("pci: bridge %v: bus %d already walked", f.BDF, s))
				default:
					seen[s] = true
					queue = append(queue, s)
				}
			}
		}
	}
	return fns, warnings
}

func readFunction(cs ConfigSpace, a BDF) (Function, bool) {
	id := cs.Read32(a, VendorID)
	if uint16(id) == NoVendor || uint16(id) == 0 {
		return Function{}, false
	}
	f := Function{BDF: a, Vendor: uint16(id), Device: uint16(id >> 16)}
	cr := cs.Read32(a, RevisionID)
	f.Revision, f.Class = uint8(cr), cr>>8
	f.Header = Read8(cs, a, HeaderType) & HeaderMask
	irq := cs.Read32(a, InterruptLine)
	f.IRQLine, f.IRQPin = uint8(irq), uint8(irq>>8)
	switch f.Header {
	case HeaderNormal:
		sub := cs.Read32(a, SubVendorID)
		f.SubVendor, f.SubID = uint16(sub), uint16(sub>>16)
	case HeaderBridge:
		f.Secondary = Read8(cs, a, SecondaryBus)
	}
	return f, true
}
