// Package bench runs the same TCP workloads (Bulk, Connect, RR) over two
// stacks linked in memory, for Damselfly's stack (net/stack) and for
// gVisor's netstack, so the figures can be printed side by side. It is a
// separate module so that the kernel never depends on gVisor; see
// docs/net-bench.md for what each side includes and the measured figures.
//
//	cd net/bench
//	go test -race -count=1 .                          # both sides move the right bytes
//	go test -run='^$' -bench=. -count=5 -benchtime=1s
//	go run ./cmd/netcompare -count 5 -benchtime 1s    # medians side by side
package bench
