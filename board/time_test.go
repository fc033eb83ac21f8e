package board

import (
	"errors"
	"math"
	"testing"
	"time"
)

// simMachine is a deterministic machine: a virtual clock in ns that every
// operation advances, a TSC and an i8254 and an MC146818 derived from it.
type simMachine struct {
	ns        float64 // true time since power-on
	tscHz     float64
	ioCost    float64 // ns per port access
	tscCost   float64 // ns per rdtsc
	stallAt   int     // after this many port reads, the vCPU is descheduled...
	stallNs   float64 // ...for this long
	reads     int
	pitLatch  uint16
	latched   bool
	pitByte   int
	rtcIndex  uint8
	wallStart time.Time
}

func (m *simMachine) tsc() uint64 {
	m.ns += m.tscCost
	return uint64(m.ns * m.tscHz / 1e9)
}

func (m *simMachine) In8(port uint16) uint8 {
	m.ns += m.ioCost
	m.reads++
	if m.stallAt > 0 && m.reads == m.stallAt {
		m.ns += m.stallNs
	}
	switch port {
	case PITChannel0:
		if !m.latched {
			m.latch()
		}
		v := uint8(m.pitLatch)
		if m.pitByte == 1 {
			v = uint8(m.pitLatch >> 8)
			m.latched = false
		}
		m.pitByte ^= 1
		return v
	case RTCData:
		wall := m.wallStart.Add(time.Duration(m.ns))
		bcd := func(n int) uint8 { return uint8(n/10<<4 | n%10) }
		switch m.rtcIndex {
		case rtcSeconds:
			return bcd(wall.Second())
		case rtcMinutes:
			return bcd(wall.Minute())
		case rtcHours:
			return bcd(wall.Hour())
		case rtcDay:
			return bcd(wall.Day())
		case rtcMonth:
			return bcd(int(wall.Month()))
		case rtcYear:
			return bcd(wall.Year() % 100)
		case rtcCentury:
			return bcd(wall.Year() / 100)
		case rtcStatusA:
			// UIP for the last 244 us of each second
			if wall.Nanosecond() > 1e9-244e3 {
				return rtcUIP
			}
			return 0
		case rtcStatusB:
			return rtc24h
		}
	}
	return 0xff
}

func (m *simMachine) latch() {
	ticks := uint64(m.ns * PITHz / 1e9)
	m.pitLatch = uint16(65536 - ticks%65536) // counts down from 65536
	m.latched = true
	m.pitByte = 0
}

func (m *simMachine) Out8(port uint16, v uint8) {
	m.ns += m.ioCost
	switch port {
	case PITControl:
		if v == pitSC0|pitRWLatch {
			m.latch()
		}
	case RTCIndex:
		m.rtcIndex = v
	}
}

func TestCalibratePIT(t *testing.T) {
	tests := []struct {
		name   string
		m      simMachine
		window uint64
		tol    float64 // relative
	}{
		{"fast io", simMachine{tscHz: 2.9e9, ioCost: 300, tscCost: 10}, PITHz / 20, 1e-4},
		{"slow TCG io", simMachine{tscHz: 2.1e9, ioCost: 20000, tscCost: 40}, PITHz / 20, 1e-3},
		{"odd rate", simMachine{tscHz: 1.234567e9, ioCost: 1000, tscCost: 25}, PITHz / 10, 1e-4},
		// a 10 ms stall in the middle must not matter: no wrap is lost
		{"short stall", simMachine{tscHz: 3e9, ioCost: 500, tscCost: 10, stallAt: 500, stallNs: 10e6}, PITHz / 20, 1e-4},
	}
	for _, tt := range tests {
		m := tt.m
		m.ns = 1e9
		pit := &PIT{IO: &m}
		pit.Start()
		c, err := Calibrate(m.tsc, pit, tt.window, 3)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if rel := math.Abs(float64(c.Hz)-m.tscHz) / m.tscHz; rel > tt.tol {
			t.Errorf("%s: measured %d Hz, true %.0f (error %.2g > %.2g)", tt.name, c.Hz, m.tscHz, rel, tt.tol)
		}
	}
}

// A stall longer than the PIT's 55 ms wrap period loses ticks; the
// calibration must notice and retry rather than return a wrong rate.
func TestCalibrateLostWrap(t *testing.T) {
	m := simMachine{tscHz: 2e9, ioCost: 500, tscCost: 10, stallAt: 300, stallNs: 80e6, ns: 1e9}
	pit := &PIT{IO: &m}
	c, err := Calibrate(m.tsc, pit, PITHz/20, 3)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tries < 2 {
		t.Errorf("stalled window accepted on try %d", c.Tries)
	}
	// a machine that stalls every 20000 reads (~15 ms) never gives a long clean
	// window, but a shortened one fits between stalls
	m3 := simMachine{tscHz: 2e9, ioCost: 500, tscCost: 10, ns: 1e9}
	c3, err := Calibrate(m3.tsc, &PIT{IO: &stallEvery{m: &m3, every: 20000, ns: 80e6}}, PITHz/20, 20)
	if err != nil {
		t.Fatalf("stalling machine with shrinking windows: %v", err)
	}
	if rel := math.Abs(float64(c3.Hz)-m3.tscHz) / m3.tscHz; rel > 1e-2 {
		t.Errorf("shrunk window measured %d Hz, true %.0f", c3.Hz, m3.tscHz)
	}
	if rel := math.Abs(float64(c.Hz)-m.tscHz) / m.tscHz; rel > 1e-4 {
		t.Errorf("measured %d Hz, true %.0f", c.Hz, m.tscHz)
	}
	// every try stalls: an error, not a number
	m2 := simMachine{tscHz: 2e9, ioCost: 500, tscCost: 10, ns: 1e9}
	stalling := &stallEvery{m: &m2, every: 200, ns: 80e6}
	if _, err := Calibrate(m2.tsc, &PIT{IO: stalling}, PITHz/20, 3); !errors.Is(err, ErrCalibration) {
		t.Errorf("always-stalling machine: err %v", err)
	}
}

type stallEvery struct {
	m     *simMachine
	every int
	n     int
	ns    float64
}

func (s *stallEvery) In8(p uint16) uint8 {
	s.n++
	if s.n%s.every == 0 {
		s.m.ns += s.ns
	}
	return s.m.In8(p)
}
func (s *stallEvery) Out8(p uint16, v uint8) { s.m.Out8(p, v) }

func TestCalibrateBadArgs(t *testing.T) {
	m := simMachine{tscHz: 2e9}
	if _, err := Calibrate(m.tsc, &PIT{IO: &m}, 0, 1); err == nil {
		t.Error("zero window accepted")
	}
}

// Time driven by a calibrated clock tracks true time within 1% over a
// simulated minute, the requirement under TCG.
func TestClockTracksOverMinute(t *testing.T) {
	m := simMachine{tscHz: 2.6e9, ioCost: 15000, tscCost: 30, ns: 0.2e9}
	pit := &PIT{IO: &m}
	pit.Start()
	clk := NewClock(0, 1e9) // provisional guess before calibration
	cal, err := Calibrate(m.tsc, pit, PITHz/20, 3)
	if err != nil {
		t.Fatal(err)
	}
	clk.SetFrequency(m.tsc(), cal.Hz)
	t0, ns0 := clk.Nanotime(m.tsc()), m.ns
	m.ns += 60e9
	t1, ns1 := clk.Nanotime(m.tsc()), m.ns
	got, want := float64(t1-t0), ns1-ns0
	if rel := math.Abs(got-want) / want; rel > 0.01 {
		t.Errorf("kernel minute %.3fs vs true %.3fs (%.3g%%)", got/1e9, want/1e9, rel*100)
	}
}

func TestClockContinuity(t *testing.T) {
	c := NewClock(1000, 1e9)
	if got := c.Nanotime(1000 + 5e9); got != 5e9 {
		t.Errorf("1 GHz: 5e9 ticks = %d ns", got)
	}
	before := c.Nanotime(1000 + 6e9)
	c.SetFrequency(1000+6e9, 3e9)
	if after := c.Nanotime(1000 + 6e9); after != before {
		t.Errorf("time jumped from %d to %d at a frequency change", before, after)
	}
	if got := c.Nanotime(1000 + 6e9 + 3e9); got < before+1e9-1 || got > before+1e9+1 {
		t.Errorf("3 GHz: 3e9 ticks after the switch = %d ns after it", got-before)
	}
	if got := c.Nanotime(10); got != before {
		t.Errorf("TSC before the last switch gave %d, want clamp to %d", got, before)
	}
	if c.Hz() != 3e9 {
		t.Errorf("Hz %d", c.Hz())
	}
	c.SetFrequency(1, 0)
	if c.Hz() != 3e9 {
		t.Error("zero frequency installed")
	}
}

func TestFreqFromCPUID(t *testing.T) {
	type leaves map[uint32][4]uint32
	sig := func(s string) (b, c, d uint32) {
		p := make([]byte, 12)
		copy(p, s)
		w := func(i int) uint32 { return uint32(p[i]) | uint32(p[i+1])<<8 | uint32(p[i+2])<<16 | uint32(p[i+3])<<24 }
		return w(0), w(4), w(8)
	}
	kb, kc, kd := sig("KVMKVMKVM")
	tb, tc, td := sig("TCGTCGTCGTCG")
	tests := []struct {
		name   string
		l      leaves
		hz     uint64
		source string
	}{
		{"crystal", leaves{0: {0x16}, 0x15: {2, 176, 24000000}}, 2112000000, "cpuid 0x15"},
		{"no crystal, base", leaves{0: {0x16}, 0x15: {2, 200}, 0x16: {2000}}, 2000000000, "cpuid 0x16"},
		{"leaf 0x15 zero", leaves{0: {0x16}, 1: {0, 0, 1 << 31}, 0x40000000: {0x40000001, kb, kc, kd}}, 0, ""},
		{"kvm timing leaf", leaves{0: {0xd}, 1: {0, 0, 1 << 31}, 0x40000000: {0x40000010, kb, kc, kd}, 0x40000010: {2995200}}, 2995200000, "cpuid 0x40000010"},
		{"tcg", leaves{0: {0xd}, 1: {0, 0, 1 << 31}, 0x40000000: {0x40000001, tb, tc, td}}, 0, ""},
		{"bare qemu64", leaves{0: {0xd}}, 0, ""},
	}
	for _, tt := range tests {
		cpuid := func(leaf, _ uint32) (a, b, c, d uint32) {
			v := tt.l[leaf]
			return v[0], v[1], v[2], v[3]
		}
		hz, src := FreqFromCPUID(cpuid)
		if hz != tt.hz || src != tt.source {
			t.Errorf("%s: %d %q, want %d %q", tt.name, hz, src, tt.hz, tt.source)
		}
	}
	h := ProbeHypervisor(func(leaf, _ uint32) (a, b, c, d uint32) {
		v := leaves{1: {0, 0, 1 << 31}, 0x40000000: {0x40000001, kb, kc, kd}, 0x40000001: {kvmFeatClock2 | kvmFeatStable}}[leaf]
		return v[0], v[1], v[2], v[3]
	})
	if !h.Present || h.Signature != "KVMKVMKVM" || !h.KVMClock {
		t.Errorf("kvm probe: %+v", h)
	}
}

func TestFreqFromPvclock(t *testing.T) {
	// Host at 2.5 GHz: mul = 2^32 * 1e9 / (2.5e9 * 2^shift); Linux picks
	// shift so mul is in [2^31, 2^32): shift=-1 -> mul = 0xcccccccc.
	hz := FreqFromPvclock(0xcccccccc, -1)
	if math.Abs(float64(hz)-2.5e9) > 10 {
		t.Errorf("pvclock 0xcccccccc/-1 = %d, want ~2.5e9", hz)
	}
	if FreqFromPvclock(0, 0) != 0 || FreqFromPvclock(1, 40) != 0 {
		t.Error("bad scale accepted")
	}
}

func TestRTC(t *testing.T) {
	start := time.Date(2026, 11, 24, 1, 59, 58, 0, time.UTC)
	m := simMachine{ioCost: 2000, wallStart: start, ns: 0.5e9}
	c := &RTC{IO: &m}
	now, err := c.Now()
	if err != nil || !now.Equal(start) {
		t.Fatalf("Now = %v, %v; want %v", now, err, start)
	}
	e, err := c.SecondEdge(func() int64 { return int64(m.ns) })
	if err != nil {
		t.Fatal(err)
	}
	if !e.Wall.Equal(start.Add(time.Second)) {
		t.Errorf("edge at %v", e.Wall)
	}
	// the true edge (1e9 ns) lies in the bracket, which is one read wide
	if e.Before > 1e9 || e.After < 1e9 || e.After-e.Before > 10e3 {
		t.Errorf("edge bracket [%d, %d] misses 1e9 or is wide", e.Before, e.After)
	}
	if _, err := (&RTC{IO: deadPorts{}}).Now(); !errors.Is(err, ErrNoRTC) {
		t.Errorf("absent RTC: %v", err)
	}
}

type deadPorts struct{}

func (deadPorts) In8(uint16) uint8   { return 0xff }
func (deadPorts) Out8(uint16, uint8) {}

func TestRTCRegsTime(t *testing.T) {
	tests := []struct {
		r    RTCRegs
		want string
	}{
		{RTCRegs{Sec: 0x59, Min: 0x30, Hour: 0x23, Day: 0x31, Month: 0x12, Year: 0x26, Century: 0x20, StatusB: rtc24h}, "2026-12-31T23:30:59Z"},
		{RTCRegs{Sec: 5, Min: 6, Hour: 7, Day: 8, Month: 9, Year: 10, Century: 21, StatusB: rtc24h | rtcBinary}, "2110-09-08T07:06:05Z"},
		{RTCRegs{Sec: 0, Min: 0, Hour: 0x12 | rtcPM, Day: 1, Month: 1, Year: 0, StatusB: 0}, "2000-01-01T12:00:00Z"},
		{RTCRegs{Sec: 0, Min: 0, Hour: 0x12, Day: 1, Month: 1, Year: 0, StatusB: 0}, "2000-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		got, err := tt.r.Time()
		if err != nil || got.Format(time.RFC3339) != tt.want {
			t.Errorf("%+v: %v %v, want %s", tt.r, got, err, tt.want)
		}
	}
	for _, bad := range []RTCRegs{
		{Sec: 0x5a, Day: 1, Month: 1, StatusB: rtc24h},
		{Sec: 60, Day: 1, Month: 1, StatusB: rtc24h | rtcBinary},
		{Day: 0x31, Month: 0x02, StatusB: rtc24h},
		{Hour: 0x13, Day: 1, Month: 1},
	} {
		if _, err := bad.Time(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func FuzzRTCRegs(f *testing.F) {
	f.Add([]byte{0x59, 0x30, 0x23, 0x31, 0x12, 0x26, 0x20, rtc24h})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 8 {
			return
		}
		r := RTCRegs{b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]}
		tm, err := r.Time()
		if err == nil && (tm.Year() < 1900 || tm.Year() > 9999) {
			t.Fatalf("%+v gave %v", r, tm)
		}
	})
}

func BenchmarkClockNanotime(b *testing.B) {
	c := NewClock(0, 2.5e9)
	var x int64
	for i := 0; i < b.N; i++ {
		x += c.Nanotime(uint64(i) * 1000)
	}
	_ = x
}

func TestClockZeroValue(t *testing.T) {
	var c Clock
	if c.Nanotime(5000) != 5000 || c.Hz() != 0 {
		t.Errorf("zero clock: %d ns, %d Hz", c.Nanotime(5000), c.Hz())
	}
	c.SetFrequency(8000, 2e9)
	if got := c.Nanotime(8000 + 2e9); got != 8000+1e9 {
		t.Errorf("after calibration: %d", got)
	}
}

func TestClockStepForward(t *testing.T) {
	c := NewClock(1000, 1e9) // 1 GHz: a tick is a nanosecond
	if got := c.Nanotime(3000); got != 2000 {
		t.Fatalf("Nanotime = %d, want 2000", got)
	}
	wall := int64(1_700_000_000) * 1e9
	if d := c.StepForward(3000, wall); d != wall-2000 {
		t.Fatalf("StepForward moved %d, want %d", d, wall-2000)
	}
	if got := c.Nanotime(3500); got != wall+500 {
		t.Fatalf("after the step Nanotime = %d, want %d", got, wall+500)
	}
	if d := c.StepForward(4000, 5); d != 0 || c.Nanotime(4000) != wall+1000 {
		t.Fatalf("a step back moved the clock by %d (now %d)", d, c.Nanotime(4000))
	}
	var zero Clock
	if d := zero.StepForward(10, wall); d != 0 {
		t.Fatalf("the uncalibrated clock stepped by %d", d)
	}
}
