// Power-off, reset and the power button.

//go:build tamago && amd64

package microvm

import (
	"time"

	"damselfly/board"
)

// i8042 keyboard controller: command 0xfe pulses the CPU reset line (the
// way Firecracker guests end the VM).
const (
	i8042Command = 0x64
	i8042Reset   = 0xfe
	debugExitOK  = 0x10 // QEMU exits with status 33
	debugExitBad = 0x11 // QEMU exits with status 35
)

// PowerOff ends the machine by the platform's methods in order; it does not
// return.
func PowerOff(success bool) {
	for _, m := range M.Platform.Power {
		switch m {
		case board.PowerDebugExit:
			if M.Platform.DebugExit != 0 {
				v := uint8(debugExitOK)
				if !success {
					v = debugExitBad
				}
				outb(M.Platform.DebugExit, v)
			}
		case board.PowerACPISleep:
			r := M.ACPI.SleepCtl
			if r.Address != 0 {
				v := M.Platform.ACPIS5Type<<board.SleepCtlS5Shift | board.SleepCtlEnable
				if r.Space == board.GASIO {
					outb(uint16(r.Address), v)
				} else {
					mmioWrite8(r.Address, v)
				}
			}
		case board.PowerI8042Reset:
			outb(i8042Command, i8042Reset)
		case board.PowerTripleFault:
			tripleFault()
		}
		// give the VMM a moment to act on the write
		for t := rdtsc(); rdtsc()-t < M.TSCHz/100+1e6; {
		}
	}
	tripleFault()
}

// Reboot resets the machine: the ACPI reset register when the FADT names
// one, else the i8042, else a triple fault (QEMU resets on it, or exits
// with -no-reboot).
func Reboot() {
	if r := M.ACPI.ResetReg; r.Address != 0 {
		if r.Space == board.GASIO {
			outb(uint16(r.Address), M.ACPI.ResetValue)
		} else {
			mmioWrite8(r.Address, M.ACPI.ResetValue)
		}
	}
	outb(i8042Command, i8042Reset)
	tripleFault()
}

// OnPowerButton calls fn (once) when the VM's power button is pressed. On
// QEMU microvm the button is the ACPI generic event device, whose event
// selector register reads (and clears) the pending events; its interrupt is
// not wired, so a goroutine polls it.
func OnPowerButton(fn func()) bool {
	base := M.Platform.GEDBase
	if base == 0 {
		return false
	}
	go func() {
		for {
			if mmioRead32(base+board.GEDEventSelector)&board.GEDEventPowerDown != 0 {
				fn()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return true
}
