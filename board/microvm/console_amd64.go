//go:build tamago && amd64

package microvm

import (
	"time"
	_ "unsafe"

	"github.com/usbarmory/tamago/soc/intel/uart"
)

// UART0 is the console, a 16550 at COM1 (the same port on every platform
// we know, see board.Platform.COM1). Init configures it; printk works before
// that because QEMU's 16550 accepts bytes in its reset state.
var UART0 = &uart.UART{Index: 1, Base: 0x3f8}

//go:linkname printk runtime/goos.Printk
func printk(c byte) {
	UART0.Tx(c)
}

// Console reads the serial port, polling: the UART's receive interrupt is
// not wired, and a person types slowly.
type Console struct{}

// Read blocks until at least one byte arrived.
func (Console) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n := 0
		for n < len(p) {
			c, ok := UART0.Rx()
			if !ok {
				break
			}
			p[n] = c
			n++
		}
		if n > 0 {
			return n, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Write sends bytes to the serial port.
func (Console) Write(p []byte) (int, error) {
	for _, c := range p {
		UART0.Tx(c)
	}
	return len(p), nil
}
