package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"damselfly/net/checksum"
	"damselfly/net/link"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Offload tests: two stacks over a link.Pipe whose ends finish checksums
// and cut TSO segments in software (link.FinishOffload), so the stack's
// offload path runs end to end on the host. The helpers here use only the
// exported socket API.

var (
	offAddrA = netip.MustParsePrefix("10.0.5.1/24")
	offAddrB = netip.MustParsePrefix("10.0.5.2/24")
)

type offPair struct {
	pipe *link.Pipe
	a, b *Stack
}

// frameCheck decodes every frame put on the wire with gopacket and checks
// what a device must have produced: no frame over the MTU, valid IPv4 and
// TCP checksums. It runs under the pipe's lock, so it only counts.
type frameCheck struct {
	mtu              int
	frames, tcp, bad atomic.Uint64
	mu               sync.Mutex
	firstBad         string
}

func (fc *frameCheck) observe(_ *link.PipeEnd, _ time.Time, f []byte) {
	fc.frames.Add(1)
	fail := func(why string) {
		fc.bad.Add(1)
		fc.mu.Lock()
		if fc.firstBad == "" {
			fc.firstBad = why
		}
		fc.mu.Unlock()
	}
	if len(f) > 14+fc.mtu {
		fail("frame longer than the MTU")
		return
	}
	pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.DecodeOptions{NoCopy: true})
	ipl, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ipl == nil {
		return // ARP
	}
	if int(ipl.Length) != len(f)-14 {
		fail("IPv4 length field")
		return
	}
	if checksum.Checksum(ipl.Contents) != 0 {
		fail("IPv4 header checksum")
		return
	}
	tl, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tl == nil {
		return
	}
	fc.tcp.Add(1)
	seg := f[14+len(ipl.Contents):]
	src, _ := netip.AddrFromSlice(ipl.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ipl.DstIP.To4())
	if checksum.Fold(checksum.Add(checksum.PseudoHeader(src, dst, 6, len(seg)), seg)) != 0 {
		fail("TCP checksum")
	}
	if len(tl.Payload) > fc.mtu-40 {
		fail("TCP payload over the MSS")
	}
}

// softOffload is a pipe configuration whose ends finish checksums and
// cut TSO frames in software and mark intact received frames as
// checksum-validated.
func softOffload(pc link.PipeConfig) link.PipeConfig {
	pc.Offload = link.Offloads{Csum: true, TSO4: true}
	pc.RxChecksumValid = true
	return pc
}

func newOffPair(t testing.TB, threads int, pc link.PipeConfig, fc *frameCheck) *offPair {
	t.Helper()
	pc.Seed = 7
	if fc != nil {
		fc.mtu = 1500
		pc.Observe = fc.observe
	}
	op := &offPair{pipe: link.NewPipe(pc)}
	stop := make(chan struct{})
	go op.pipe.RunTimer(stop)
	var err error
	if op.a, err = New(Config{Link: op.pipe.A, Addr: offAddrA, Threads: threads}); err != nil {
		t.Fatal(err)
	}
	if op.b, err = New(Config{Link: op.pipe.B, Addr: offAddrB, Threads: threads}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		op.a.Close()
		op.b.Close()
		close(stop)
	})
	return op
}

// offEcho runs an echo server on b and pushes n pattern bytes from a
// through it on conns connections at once, checking every byte back.
func (op *offPair) offEcho(t testing.TB, n, conns int, timeout time.Duration) {
	t.Helper()
	l, err := op.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echoServer(t, l)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			c, err := op.a.DialTCP(ctx, netip.AddrPortFrom(offAddrB.Addr(), 7))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			data := make([]byte, n)
			rand.New(rand.NewSource(int64(i))).Read(data)
			werr := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				if err == nil {
					err = c.CloseWrite()
				}
				werr <- err
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Errorf("conn %d: read after %d of %d bytes: %v", i, len(got), n, err)
				return
			}
			if err := <-werr; err != nil {
				t.Errorf("conn %d: write: %v", i, err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("conn %d: %d bytes echoed as %d, sha256 %x vs %x", i, n, len(got), sha256.Sum256(got), sha256.Sum256(data))
			}
		}()
	}
	wg.Wait()
}

// TestOffloadEcho echoes data through two stacks over an impaired pipe
// (loss, reordering, duplication, corruption), with and without the
// software offloader: every byte checked, every wire frame decoded by
// gopacket with its checksums verified. With offload, the senders must
// have used TSO (GSO frames carrying several segments), the ARP-pending
// SYN must have been finished in software, and received frames skipped
// the checksum pass (the pipe marks intact frames as validated).
func TestOffloadEcho(t *testing.T) {
	n := 100 << 20 // each way
	if offloadRace || testing.Short() {
		n = 6 << 20
	}
	im := link.Impairments{Loss: 0.002, Reorder: 0.005, Duplicate: 0.001, Corrupt: 0.001,
		Delay: 50 * time.Microsecond, Jitter: 20 * time.Microsecond, ReorderDelay: 300 * time.Microsecond}
	for _, offload := range []bool{false, true} {
		name := "plain"
		if offload {
			name = "offload"
		}
		t.Run(name, func(t *testing.T) {
			fc := &frameCheck{}
			pc := link.PipeConfig{AtoB: im, BtoA: im}
			if offload {
				pc = softOffload(pc)
			}
			op := newOffPair(t, 2, pc, fc)
			start := time.Now()
			op.offEcho(t, n/2, 2, 5*time.Minute)
			el := time.Since(start)
			st := op.a.Stats().Total.TCP
			_, oa := op.a.OffloadStats()
			_, ob := op.b.OffloadStats()
			t.Logf("%d MB each way in %v: %d frames on the wire (%d TCP); a: %d segments out, %d retransmits, %d checksum errors; offload a %+v b %+v",
				n>>20, el.Round(time.Millisecond), fc.frames.Load(), fc.tcp.Load(), st.SegmentsOut, st.Retransmits, st.ChecksumErrors, oa, ob)
			if b := fc.bad.Load(); b > 0 {
				t.Errorf("%d bad frames on the wire; first: %s", b, fc.firstBad)
			}
			if st.Retransmits == 0 {
				t.Errorf("no retransmission: the impairments did not bite")
			}
			if !offload {
				if oa.TxCsumFrames+oa.RxValidated+st.GSOFrames != 0 {
					t.Errorf("offload used on a link without it: %+v", oa)
				}
				return
			}
			if !oa.Csum {
				t.Fatalf("the stack does not use the link's offloads: is newProto's setupOffload call (stack.go) missing? %+v", oa)
			}
			for _, o := range []OffloadStats{oa, ob} {
				if !o.Csum || !o.TSO || o.TxCsumFrames == 0 || o.TxGSOFrames == 0 || o.TxGSOSegments < 2*o.TxGSOFrames || o.RxValidated == 0 || o.TxErrors != 0 {
					t.Errorf("offload counters: %+v", o)
				}
			}
			if oa.TxSoftware == 0 {
				t.Errorf("the SYN sent before ARP resolved was not finished in software: %+v", oa)
			}
			if st.GSOFrames != oa.TxGSOFrames || st.CsumValidatedIn == 0 {
				t.Errorf("TCP counters disagree with the stack's: tcp %d GSO frames, %d validated; stack %+v", st.GSOFrames, st.CsumValidatedIn, oa)
			}
		})
	}
}
