package kernel

import (
	"strings"
	"testing"
)

func TestCheckZeroThenFill(t *testing.T) {
	var got [][]byte
	fresh := func(n int) []byte { b := make([]byte, n); got = append(got, b); return b }
	n, err := checkZeroThenFill(fresh, 4096, 1024)
	if err != nil || n != 4096 || len(got) != 4 {
		t.Fatalf("fresh memory: %d bytes, %d chunks, %v", n, len(got), err)
	}
	for i, b := range got {
		for j, c := range b {
			if c != 0xa5 {
				t.Fatalf("chunk %d byte %d = %#x after the fill, want 0xa5", i, j, c)
			}
		}
	}

	// Memory left as a previous user left it: the check must name it.
	stale := func(n int) []byte {
		b := make([]byte, n)
		b[n-1] = 1
		return b
	}
	if _, err := checkZeroThenFill(stale, 2048, 1024); err == nil || !strings.Contains(err.Error(), "2 of 256 words not zero") ||
		!strings.Contains(err.Error(), "first at byte 1016") {
		t.Errorf("stale memory: %v", err)
	}
	if _, err := checkZeroThenFill(fresh, 1024, 12); err == nil {
		t.Error("chunk of 12 bytes accepted")
	}
	if _, err := checkZeroThenFill(func(int) []byte { return nil }, 1024, 1024); err == nil {
		t.Error("short allocation accepted")
	}
}
