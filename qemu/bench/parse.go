package bench

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Wrk is what one wrk --latency run reported.
type Wrk struct {
	RequestsPerSec float64
	P50, P99       time.Duration
	Requests       uint64
	// Errors are wrk's "Socket errors" and "Non-2xx or 3xx responses"
	// lines, verbatim; a clean run has none.
	Errors []string
}

var (
	wrkRate     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)\s*$`)
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkErrors   = regexp.MustCompile(`(?m)^\s*(Socket errors:.*|Non-2xx or 3xx responses:.*)$`)
	wrkPercent  = regexp.MustCompile(`^\s*(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
)

// ParseWrk reads wrk's report. The latency percentiles need --latency.
func ParseWrk(out string) (Wrk, error) {
	var w Wrk
	m := wrkRate.FindStringSubmatch(out)
	if m == nil {
		return Wrk{}, fmt.Errorf("wrk: no Requests/sec line in %q", clip(out))
	}
	r, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return Wrk{}, fmt.Errorf("wrk: Requests/sec %q: %w", m[1], err)
	}
	w.RequestsPerSec = r
	if m := wrkRequests.FindStringSubmatch(out); m != nil {
		w.Requests, _ = strconv.ParseUint(m[1], 10, 64)
	}
	for _, e := range wrkErrors.FindAllStringSubmatch(out, -1) {
		w.Errors = append(w.Errors, strings.TrimSpace(e[1]))
	}
	inDist := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "Latency Distribution") {
			inDist = true
			continue
		}
		if !inDist {
			continue
		}
		m := wrkPercent.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		d, err := wrkDuration(m[2], m[3])
		if err != nil {
			return Wrk{}, err
		}
		if m[1] == "50" {
			w.P50 = d
		} else {
			w.P99 = d
		}
	}
	if w.P50 == 0 || w.P99 == 0 {
		return Wrk{}, fmt.Errorf("wrk: no 50%%/99%% latency lines (run it with --latency) in %q", clip(out))
	}
	return w, nil
}

// wrkDuration reads wrk's "3.20ms" style: a decimal and one of its units.
func wrkDuration(num, unit string) (time.Duration, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v > 1e9 {
		return 0, fmt.Errorf("wrk: bad latency %q%s", num, unit)
	}
	scale := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}[unit]
	return time.Duration(v * scale), nil
}

// Ab is what one ab run reported.
type Ab struct {
	RequestsPerSec float64
	Complete       uint64
	Failed         uint64
	Non2xx         uint64
}

var (
	abRate     = regexp.MustCompile(`(?m)^Requests per second:\s+([0-9.]+)`)
	abComplete = regexp.MustCompile(`(?m)^Complete requests:\s+(\d+)`)
	abFailed   = regexp.MustCompile(`(?m)^Failed requests:\s+(\d+)`)
	abNon2xx   = regexp.MustCompile(`(?m)^Non-2xx responses:\s+(\d+)`)
)

// ParseAb reads ab's report.
func ParseAb(out string) (Ab, error) {
	var a Ab
	m := abRate.FindStringSubmatch(out)
	if m == nil {
		return Ab{}, fmt.Errorf("ab: no Requests per second line in %q", clip(out))
	}
	r, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return Ab{}, fmt.Errorf("ab: Requests per second %q: %w", m[1], err)
	}
	a.RequestsPerSec = r
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *uint64
	}{{abComplete, &a.Complete}, {abFailed, &a.Failed}, {abNon2xx, &a.Non2xx}} {
		if m := f.re.FindStringSubmatch(out); m != nil {
			n, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				return Ab{}, fmt.Errorf("ab: %q: %w", m[0], err)
			}
			*f.dst = n
		}
	}
	return a, nil
}

// clip shortens a tool's output for an error message.
func clip(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
