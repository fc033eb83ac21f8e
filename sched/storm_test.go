package sched

import (
	"strings"
	"testing"
)

func TestStorm(t *testing.T) {
	for _, ncpu := range []int{1, 4} {
		s := startSystem(t, ncpu, Options{FIFOSize: 8})
		r, err := Storm(s, StormConfig{ClientsPerCPU: 16, MsgsPerClient: 32})
		if err != nil {
			t.Fatal(err)
		}
		if r.Msgs != uint64(ncpu*16*32) || r.Switches == 0 || (ncpu > 1 && r.IPIsSent == 0) {
			t.Fatalf("%d cpus: %+v", ncpu, r)
		}
		if !strings.HasPrefix(r.String(), "lwkt: ok cpus=") {
			t.Fatalf("line %q", r)
		}
		t.Log(r)
	}
}
