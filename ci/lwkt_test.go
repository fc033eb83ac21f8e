package ci

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"damselfly/qemu"
)

var lwktRE = regexp.MustCompile(`(?m)^lwkt: ok cpus=(\d+) msgs=(\d+) ipis=(\d+)/(\d+) switches=(\d+)\r?$`)

// TestBootLWKT runs the cross-CPU message storm (selftest=lwkt) in the guest:
// one LWKT scheduler per vCPU, messages between all of them. It runs after
// the smp self-test, whose goroutines lock themselves to their CPUs: the
// storm must not inherit that state.
func TestBootLWKT(t *testing.T) {
	for _, smp := range []int{1, 4} {
		smp := smp
		t.Run(fmt.Sprintf("smp%d", smp), func(t *testing.T) {
			t.Parallel()
			out, res, err := boot(t, qemu.Config{SMP: smp, Memory: "256M", Append: "selftest=smp,lwkt poweroff"}, 90*time.Second)
			if err != nil {
				t.Fatalf("%v (status %d)", err, res.Status)
			}
			m := lwktRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no lwkt line")
			}
			num := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 64); return v }
			if num(1) != uint64(smp) {
				t.Errorf("lwkt ran on %d CPUs, want %d", num(1), smp)
			}
			if num(2) == 0 || num(5) < num(2) {
				t.Errorf("msgs=%d switches=%d: a storm switches at least once a message", num(2), num(5))
			}
			if smp > 1 && num(3)+num(4) == 0 {
				t.Errorf("no IPI sent or avoided on %d CPUs", smp)
			}
			if !strings.Contains(out, "selftest lwkt: ok") || res.Status != qemu.StatusSuccess {
				t.Errorf("selftest result missing or status %d", res.Status)
			}
		})
	}
}
