// Package bench runs the same TCP benchmarks over two stacks linked in
// memory for Damselfly's stack (net/stack) and for gVisor's netstack, side
// by side. It is a separate module so that the kernel never depends on
// gVisor; run it from this directory:
//
//	cd net/bench && go test -run='^$' -bench=. -benchtime=2s
package bench
