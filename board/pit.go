// The i8254 programmable interval timer as a reference counter.
//
// Intel 8254 datasheet (order 231164): counter 0 in mode 2 (rate generator)
// with a reload of 0 (meaning 65536) counts down from 65536 to 1 at
// 1.193182 MHz forever. A counter-latch command (control word with RW=00)
// freezes the count so the two byte reads from the data port agree.
// Channel 0's output is IRQ 0, which we leave masked: we only read the count.

package board

// PIT ports and control word fields (8254 datasheet, "Control Word Format").
const (
	PITChannel0 = 0x40
	PITControl  = 0x43

	pitSC0       = 0 << 6 // select counter 0
	pitRWLatch   = 0 << 4 // counter latch command
	pitRWLoHi    = 3 << 4 // read/write LSB then MSB
	pitMode2     = 2 << 1 // rate generator
	pitBinary    = 0
	PITHz        = 1193182
	pitBits      = 16
	pitReloadMax = 0 // 0 means 65536
)

// Ports does byte-wide x86 port I/O.
type Ports interface {
	In8(port uint16) uint8
	Out8(port uint16, v uint8)
}

// PIT reads counter 0 of an i8254.
type PIT struct {
	IO Ports
}

// Start programs counter 0 as a free-running 16-bit down counter.
func (p *PIT) Start() {
	p.IO.Out8(PITControl, pitSC0|pitRWLoHi|pitMode2|pitBinary)
	p.IO.Out8(PITChannel0, pitReloadMax&0xff)
	p.IO.Out8(PITChannel0, pitReloadMax>>8)
}

// Read returns the count as an up-counter modulo 2^16.
func (p *PIT) Read() uint64 {
	p.IO.Out8(PITControl, pitSC0|pitRWLatch)
	lo := p.IO.In8(PITChannel0)
	hi := p.IO.In8(PITChannel0)
	down := uint64(hi)<<8 | uint64(lo)
	return (1<<pitBits - down) & (1<<pitBits - 1)
}

func (p *PIT) Hz() uint64   { return PITHz }
func (p *PIT) Bits() uint   { return pitBits }
func (p *PIT) Name() string { return "i8254 PIT" }
