package chunkcopy

import (
	"bytes"
	"testing"
)

// Copy must behave as copy for every length and alignment, around
// and across the piece size.
func TestCopy(t *testing.T) {
	src := make([]byte, 3*Chunk+77)
	for i := range src {
		src[i] = byte(i*13 + i>>8)
	}
	for _, n := range []int{0, 1, 7, Chunk - 1, Chunk, Chunk + 1, 2*Chunk + 5, len(src) - 3} {
		for _, so := range []int{0, 1, 3} {
			for _, dl := range []int{n, n / 2, n + 9} {
				dst := make([]byte, dl)
				want := make([]byte, dl)
				k := copy(want, src[so:so+n])
				if got := Copy(dst, src[so:so+n]); got != k || !bytes.Equal(dst, want) {
					t.Fatalf("n %d src offset %d dst len %d: copied %d (want %d), equal %v", n, so, dl, got, k, bytes.Equal(dst, want))
				}
			}
		}
	}
}
