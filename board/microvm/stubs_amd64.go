// The CPU exceptions the board reports, in the order of the stubs and of
// excStubAddrs in io_amd64.s; keep them equal.

//go:build tamago && amd64

package microvm

var excVectors = [...]int{0, 1, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21}

// excStubAddr returns the entry address of stub i (ABI0 code entered by the
// CPU, not a Go func; excVectors[i] is its vector).
func excStubAddr(i int) uintptr
