// The MC146818 CMOS real-time clock: the wall-clock device of QEMU microvm
// (rtc=on by default) and of PCs. It is the reference the `time` self-test
// compares kernel time with, because QEMU drives it from the host's clock.
//
// Registers from the MC146818A datasheet ("Address Map", "Register A/B"); the
// century byte at 0x32 is the one QEMU fills and ACPI's FADT.CENTURY names.

package board

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// RTC ports and registers.
const (
	RTCIndex = 0x70 // bit 7 set disables NMI: keep it clear
	RTCData  = 0x71

	rtcSeconds = 0x00
	rtcMinutes = 0x02
	rtcHours   = 0x04
	rtcDay     = 0x07
	rtcMonth   = 0x08
	rtcYear    = 0x09
	rtcStatusA = 0x0a
	rtcStatusB = 0x0b
	rtcCentury = 0x32

	rtcUIP    = 1 << 7 // A: update in progress
	rtcBinary = 1 << 2 // B: DM, values are binary rather than BCD
	rtc24h    = 1 << 1 // B: 24-hour mode
	rtcPM     = 1 << 7 // hours register, 12-hour mode
)

// RTCRegs is a snapshot of the time registers.
type RTCRegs struct {
	Sec, Min, Hour, Day, Month, Year, Century, StatusB uint8
}

func fromBCD(v uint8) (int, bool) {
	hi, lo := v>>4, v&0xf
	if hi > 9 || lo > 9 {
		return 0, false
	}
	return int(hi)*10 + int(lo), true
}

// Time decodes the registers as UTC (QEMU's default -rtc base=utc).
func (r RTCRegs) Time() (time.Time, error) {
	conv := func(v uint8) (int, bool) { return int(v), true }
	if r.StatusB&rtcBinary == 0 {
		conv = fromBCD
	}
	hourReg := r.Hour
	pm := false
	if r.StatusB&rtc24h == 0 {
		pm = hourReg&rtcPM != 0
		hourReg &^= rtcPM
	}
	var v [7]int
	for i, b := range [7]uint8{r.Sec, r.Min, hourReg, r.Day, r.Month, r.Year, r.Century} {
		n, ok := conv(b)
		if !ok {
			return time.Time{}, fmt.Errorf("rtc: register %d holds %#x, not BCD", i, b)
		}
		v[i] = n
	}
	sec, min, hour, day, month, year, century := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	if r.StatusB&rtc24h == 0 {
		if hour < 1 || hour > 12 {
			return time.Time{}, fmt.Errorf("rtc: 12-hour clock reads %d", hour)
		}
		hour %= 12
		if pm {
			hour += 12
		}
	}
	if century == 0 {
		century = 20 // no century register: assume 20xx
	}
	if sec > 59 || min > 59 || hour > 23 || day < 1 || day > 31 || month < 1 || month > 12 || year > 99 || century < 19 || century > 99 {
		return time.Time{}, fmt.Errorf("rtc: impossible date %02d%02d-%02d-%02d %02d:%02d:%02d", century, year, month, day, hour, min, sec)
	}
	t := time.Date(century*100+year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, fmt.Errorf("rtc: %d-%02d has no day %d", century*100+year, month, day)
	}
	return t, nil
}

// RTC reads an MC146818 through port I/O.
type RTC struct {
	IO Ports
}

func (c *RTC) reg(r uint8) uint8 {
	c.IO.Out8(RTCIndex, r)
	return c.IO.In8(RTCData)
}

// maxRTCPolls bounds every wait on the device: a broken or absent RTC (port
// reads of 0xff) must not hang the boot.
const maxRTCPolls = 1 << 22

// ErrNoRTC means the device never settled.
var ErrNoRTC = errors.New("rtc: device does not settle (absent?)")

// Regs returns a consistent snapshot: read outside an update cycle, twice,
// until two reads agree.
func (c *RTC) Regs() (RTCRegs, error) {
	var prev RTCRegs
	for i := 0; i < 1000; i++ {
		if !c.waitNotUpdating() {
			return RTCRegs{}, ErrNoRTC
		}
		r := RTCRegs{
			Sec: c.reg(rtcSeconds), Min: c.reg(rtcMinutes), Hour: c.reg(rtcHours),
			Day: c.reg(rtcDay), Month: c.reg(rtcMonth), Year: c.reg(rtcYear),
			Century: c.reg(rtcCentury), StatusB: c.reg(rtcStatusB),
		}
		if i > 0 && r == prev {
			return r, nil
		}
		prev = r
	}
	return RTCRegs{}, ErrNoRTC
}

func (c *RTC) waitNotUpdating() bool {
	for i := 0; i < maxRTCPolls; i++ {
		if c.reg(rtcStatusA)&rtcUIP == 0 {
			return true
		}
	}
	return false
}

// Now reads the wall-clock time.
func (c *RTC) Now() (time.Time, error) {
	r, err := c.Regs()
	if err != nil {
		return time.Time{}, err
	}
	return r.Time()
}

// Edge is the start of a wall-clock second as seen by the kernel's clock:
// the seconds register changed between two reads at Before and After.
type Edge struct {
	Wall          time.Time // the second that began
	Before, After int64     // now() at the last read of the old and the first of the new second
}

// SecondEdge spins until the seconds register changes and returns when,
// bracketed by the surrounding reads (a vCPU descheduled between them makes
// the bracket wide, not the answer wrong). It gives up after maxRTCPolls
// reads (more than a second on any machine). It yields the CPU between
// reads: the runtime cannot preempt a spinning goroutine, and the one that
// keeps the clock (board.Discipline's) may be waiting for this CPU.
func (c *RTC) SecondEdge(now func() int64) (Edge, error) {
	var first uint8
	var before int64
	for i := 0; i < maxRTCPolls; i++ {
		t0 := now()
		sec := c.reg(rtcSeconds)
		t1 := now()
		switch {
		case i == 0:
			first = sec
		case sec != first:
			// the second changed after the last read of the old
			// value began (before) and before this read ended (t1)
			r, err := c.Regs()
			if err != nil {
				return Edge{}, err
			}
			wall, err := r.Time()
			return Edge{Wall: wall, Before: before, After: t1}, err
		}
		before = t0
		runtime.Gosched()
	}
	return Edge{}, ErrNoRTC
}
