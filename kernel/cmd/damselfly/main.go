//go:build tamago

// Command damselfly is the default kernel image: boot, self-tests from the
// command line, the serial shell. make kernel builds it to build/kernel.elf.
package main

import (
	_ "damselfly/board/microvm" // machine support: runtime/goos hooks
	"damselfly/kernel"
)

func main() {
	kernel.Run(appliance)
}
