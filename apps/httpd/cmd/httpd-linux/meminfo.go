package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// meminfo holds the two /proc/meminfo fields the benchmark uses, in bytes.
type meminfo struct {
	Total     uint64 // MemTotal: RAM the kernel manages (less its own image and reservations)
	Available uint64 // MemAvailable: the kernel's estimate of what can be given out without swapping
}

// InUse is memory in use: Total - Available (0 if the file was inconsistent).
func (m meminfo) InUse() uint64 {
	if m.Available > m.Total {
		return 0
	}
	return m.Total - m.Available
}

// parseMeminfo reads "Name:   1234 kB" lines. Both fields must be present.
func parseMeminfo(b []byte) (meminfo, error) {
	var m meminfo
	var haveTotal, haveAvail bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch name {
		case "MemTotal":
			dst, haveTotal = &m.Total, true
		case "MemAvailable":
			dst, haveAvail = &m.Available, true
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "kB") {
			return meminfo{}, fmt.Errorf("meminfo: %s: malformed value %q", name, rest)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || n > 1<<53 {
			return meminfo{}, fmt.Errorf("meminfo: %s: bad number %q", name, f[0])
		}
		if len(f) == 2 {
			n <<= 10
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return meminfo{}, fmt.Errorf("meminfo: %w", err)
	}
	if !haveTotal || !haveAvail || m.Total == 0 {
		return meminfo{}, errors.New("meminfo: MemTotal or MemAvailable missing")
	}
	return m, nil
}
