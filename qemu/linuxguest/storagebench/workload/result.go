package workload

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Result is one figure: Ops operations moving Bytes bytes in Elapsed.
type Result struct {
	Name    string
	Bytes   int64
	Ops     int64
	Elapsed time.Duration
}

// MBps is the throughput in 10^6 bytes per second (0 if nothing was timed).
func (r Result) MBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Elapsed.Seconds() / 1e6
}

// IOPS is operations per second.
func (r Result) IOPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Line formats r as "<prefix>: <name> MB/s=<x> iops=<y> bytes=<n> ms=<t>".
func (r Result) Line(prefix string) string {
	return fmt.Sprintf("%s: %s MB/s=%.1f iops=%.0f bytes=%d ms=%.1f",
		prefix, r.Name, r.MBps(), r.IOPS(), r.Bytes, float64(r.Elapsed.Microseconds())/1000)
}

// Print writes one Line per result.
func Print(w io.Writer, prefix string, rs []Result) {
	for _, r := range rs {
		fmt.Fprintln(w, r.Line(prefix))
	}
}

// Parsed is a figure read back from a console line.
type Parsed struct {
	Prefix, Name string
	MBps, IOPS   float64
	Bytes        int64
	Ms           float64
}

// ParseLine reads a line written by Result.Line; ok is false for any other
// line. Console output is untrusted text: malformed fields are refused,
// never guessed.
func ParseLine(line string) (p Parsed, ok bool) {
	line = strings.TrimRight(line, "\r\n")
	prefix, rest, found := strings.Cut(line, ": ")
	if !found || prefix == "" || strings.ContainsAny(prefix, " \t") {
		return Parsed{}, false
	}
	f := strings.Fields(rest)
	if len(f) != 5 {
		return Parsed{}, false
	}
	p.Prefix, p.Name = prefix, f[0]
	if strings.Contains(p.Name, "=") {
		return Parsed{}, false
	}
	want := []string{"MB/s=", "iops=", "bytes=", "ms="}
	for i, key := range want {
		v, found := strings.CutPrefix(f[i+1], key)
		if !found {
			return Parsed{}, false
		}
		var err error
		switch i {
		case 0:
			p.MBps, err = strconv.ParseFloat(v, 64)
		case 1:
			p.IOPS, err = strconv.ParseFloat(v, 64)
		case 2:
			p.Bytes, err = strconv.ParseInt(v, 10, 64)
		case 3:
			p.Ms, err = strconv.ParseFloat(v, 64)
		}
		if err != nil || !finite(p.MBps) || !finite(p.IOPS) || p.Bytes < 0 || !finite(p.Ms) {
			return Parsed{}, false
		}
	}
	return p, true
}

// finite reports a usable figure: not negative, NaN or infinite.
func finite(x float64) bool { return x >= 0 && !math.IsInf(x, 0) }
