//go:build !amd64

package main

// hostTSCkHz is 0 (unknown) off amd64: the Linux guest calibrates itself.
func hostTSCkHz() uint64 { return 0 }
