package main

import "testing"

const sample = `MemTotal:         222756 kB
MemFree:          193712 kB
MemAvailable:     196948 kB
Buffers:               0 kB
`

func TestParseMeminfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		inUse   uint64
		wantErr bool
	}{
		{"debian", sample, (222756 - 196948) * 1024, false},
		{"order", "MemAvailable: 1 kB\nMemTotal: 3 kB\n", 2048, false},
		{"no unit", "MemTotal: 3000\nMemAvailable: 1000\n", 2000, false},
		{"available above total", "MemTotal: 1 kB\nMemAvailable: 3 kB\n", 0, false},
		{"missing available", "MemTotal: 1 kB\n", 0, true},
		{"missing total", "MemAvailable: 1 kB\n", 0, true},
		{"total twice", "MemTotal: 1 kB\nMemTotal: 1 kB\n", 0, true},
		{"bad number", "MemTotal: x kB\nMemAvailable: 1 kB\n", 0, true},
		{"bad unit", "MemTotal: 1 MB\nMemAvailable: 1 kB\n", 0, true},
		{"empty value", "MemTotal:\nMemAvailable: 1 kB\n", 0, true},
		{"empty", "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseMeminfo([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && m.InUse() != tc.inUse {
				t.Errorf("InUse = %d, want %d", m.InUse(), tc.inUse)
			}
		})
	}
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("MemTotal: 18446744073709551615 kB\nMemAvailable: 0\n"))
	f.Add([]byte("MemTotal:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeminfo(b)
		if err == nil && m.InUse() > m.Total {
			t.Fatalf("in use %d above total %d", m.InUse(), m.Total)
		}
	})
}
