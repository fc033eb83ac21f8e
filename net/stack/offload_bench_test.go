package stack

import (
	"context"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"damselfly/net/link"
)

// BenchmarkOffloadBulk: one connection, one direction, 64 KiB writes,
// between two one-thread stacks on goroutines over an in-memory pipe,
// with the link's offloads off and on:
//
//   - plain: the stacks checksum every segment both ways, one MSS each;
//   - csum: checksum offload only; the pipe finishes the checksum in
//     software (so the same work moves from the stack to the "device",
//     still on this CPU);
//   - tso: checksum offload and TSO; the pipe cuts 64 KiB frames into MSS
//     segments and finishes them, the receiver skips its checksum pass;
//   - passthrough: what two stacks on one host get from Linux's veth: the
//     offload frame is delivered whole and unfinished, marked valid, and
//     the receiver takes 64 KiB segments (no checksum pass anywhere).
func BenchmarkOffloadBulk(b *testing.B) {
	for _, c := range []struct {
		name string
		pc   link.PipeConfig
	}{
		{"plain", link.PipeConfig{}},
		{"csum", link.PipeConfig{Offload: link.Offloads{Csum: true}, RxChecksumValid: true}},
		{"tso", softOffload(link.PipeConfig{})},
		{"passthrough", link.PipeConfig{Offload: link.Offloads{Csum: true, TSO4: true}, OffloadPassthrough: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			op := newOffPair(b, 1, c.pc, nil)
			l, err := op.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 9), 4)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			done := make(chan int64, 1)
			go func() {
				conn, err := l.AcceptTCP()
				if err != nil {
					done <- -1
					return
				}
				n, _ := io.Copy(io.Discard, conn)
				conn.Close()
				done <- n
			}()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := op.a.DialTCP(ctx, netip.AddrPortFrom(offAddrB.Addr(), 9))
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			cpu0 := processCPU()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c.CloseWrite()
			if n := <-done; n != int64(b.N)*int64(len(buf)) {
				b.Fatalf("received %d of %d bytes", n, int64(b.N)*int64(len(buf)))
			}
			b.StopTimer()
			// Process CPU time (both stacks, the pipe, the runtime) per
			// 64 KiB: less disturbed than wall time by other load on a
			// shared machine.
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			c.Close()
			st := op.a.Stats().Total.TCP
			b.ReportMetric(float64(st.SegmentsOut)/float64(b.N), "segs/op")
			b.ReportMetric(float64(st.GSOFrames)/float64(b.N), "gso/op")
		})
	}
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
