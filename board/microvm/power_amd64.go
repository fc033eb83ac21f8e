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
		case board.PowerACPIPM1:
			r := M.ACPI.PM1aCnt
			if r.Address != 0 {
				v := uint16(M.Platform.ACPIS5Type)<<board.PM1CntSlpTypShift | board.PM1CntSlpEn
				if r.Space == board.GASIO {
					outw(uint16(r.Address), v)
				} else {
					mmioWrite16(r.Address, v)
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
// selector register reads (and clears) the pending events; on q35 and pc it
// is ACPI's fixed power button (PWRBTN_STS in the PM1a status register,
// set only while PWRBTN_EN is set in the enable register that follows it;
// ACPI 6.5, 4.8.3.1). Neither interrupt is wired, so a goroutine polls.
func OnPowerButton(fn func()) bool {
	if M.Platform.PM1PowerButton {
		return onPM1PowerButton(fn)
	}
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

// onPM1PowerButton polls the fixed power button in the PM1a event block
// (system I/O only: QEMU's ICH9 and PIIX4 blocks are ports).
func onPM1PowerButton(fn func()) bool {
	evt := M.ACPI.PM1aEvt
	if evt.Address == 0 || evt.Space != board.GASIO || M.ACPI.PM1EvtLen < 4 {
		return false
	}
	sts := uint16(evt.Address)
	en := sts + uint16(M.ACPI.PM1EvtLen/2)
	outw(sts, board.PM1PwrBtn) // write 1 to clear a stale press
	outw(en, inw(en)|board.PM1PwrBtn)
	go func() {
		for {
			if inw(sts)&board.PM1PwrBtn != 0 {
				outw(sts, board.PM1PwrBtn)
				fn()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return true
}
