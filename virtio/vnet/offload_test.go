package vnet_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"damselfly/internal/echotest"
	"damselfly/net/checksum"
	"damselfly/net/ether"
	"damselfly/net/link"
	"damselfly/net/stack"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// checkedWire is the peer's end of the simulated cable. Every frame the
// device puts on the wire (after its offloads) is checked: no longer than
// the MTU, valid IPv4 and TCP checksums. With dataValid the peer's frames
// reach the driver marked VIRTIO_NET_HDR_F_DATA_VALID, as from a host
// that verified them.
type checkedWire struct {
	*vnetsim.Wire
	sim       *vnetsim.Net
	dataValid bool
	frames    atomic.Uint64
	mu        sync.Mutex
	bad       []string
}

func (w *checkedWire) SetReceiver(r link.Receiver) {
	w.Wire.SetReceiver(func(f []byte, rss link.RSS) {
		w.frames.Add(1)
		if why := checkFrame(f); why != "" {
			w.mu.Lock()
			w.bad = append(w.bad, why)
			w.mu.Unlock()
		}
		r(f, rss)
	})
}

func (w *checkedWire) Send(f []byte) error {
	w.sim.Inject(f, vnetsim.RxOpts{Queue: -1, DataValid: w.dataValid})
	return nil
}

func checkFrame(f []byte) string {
	if len(f) > ether.HeaderLen+1500 {
		return fmt.Sprintf("%d-byte frame on a 1500-byte link", len(f))
	}
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return ""
	}
	ip := f[14:]
	ihl := int(ip[0]&0xf) * 4
	if checksum.Checksum(ip[:ihl]) != 0 {
		return "IPv4 header checksum"
	}
	if ip[9] != 6 {
		return ""
	}
	seg := ip[ihl:int(binary.BigEndian.Uint16(ip[2:]))]
	src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	if checksum.Fold(checksum.Add(checksum.PseudoHeader(src, dst, 6, len(seg)), seg)) != 0 {
		return "TCP checksum"
	}
	return ""
}

// TestStackOffloadOverDriver: the stack on the driver with the device's
// offloads in use. The stack sends TCP with partial checksums and 64 KiB
// TSO frames, which the (simulated) device finishes and cuts: every wire
// frame is checked, every echoed byte compared, and the counters of the
// driver and the stack agree that the offloads were used, or were not
// when the device does not offer them.
func TestStackOffloadOverDriver(t *testing.T) {
	for _, c := range []struct {
		name      string
		so        vnetsim.Options
		disable   uint64
		dataValid bool
		csum, tso bool
	}{
		{"csum+tso/data-valid", vnetsim.Options{Pairs: 2, RSS: true}, 0, true, true, true},
		{"csum-only", vnetsim.Options{}, vnet.FeatureHostTSO4, false, true, false},
		{"none", vnetsim.Options{NoOffload: true}, 0, false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			threads := max(c.so.Pairs, 1)
			r := newRig(t, false, c.so, vnet.Options{Queues: threads, Disable: c.disable})
			if caps := r.drv.OffloadCaps(); caps.Csum != c.csum || caps.TSO4 != c.tso {
				t.Fatalf("OffloadCaps %+v", caps)
			}
			a, err := stack.New(stack.Config{Link: r.drv, Addr: netip.MustParsePrefix("10.0.2.15/24"), Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			w := &checkedWire{Wire: r.sim.Wire(ether.MAC{2, 0, 0, 0, 0, 2}, 1500), sim: r.sim, dataValid: c.dataValid}
			b, err := stack.New(stack.Config{Link: w, Addr: netip.MustParsePrefix("10.0.2.2/24"), Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			l, err := a.ListenTCP(netip.MustParseAddrPort("0.0.0.0:7"), 64)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			echotest.ServeReads(l, 256<<10) // large writes: room for TSO
			n := 2 << 20
			if offloadRace {
				n = 512 << 10 // the race detector slows the simulated device tenfold
			}
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					echo(t, b, netip.MustParseAddrPort("10.0.2.15:7"), n, uint64(i))
				}()
			}
			wg.Wait()
			w.mu.Lock()
			if len(w.bad) > 0 {
				t.Errorf("%d bad frames on the wire of %d, first: %s", len(w.bad), w.frames.Load(), w.bad[0])
			}
			w.mu.Unlock()
			_, os := a.OffloadStats()
			ts := a.Stats().Total.TCP
			var tso, bad, full uint64
			for _, q := range r.drv.Stats().Queues {
				tso += q.TxTSO
				bad += q.Drops["tx_bad_offload"]
				full += q.Drops["tx_ring_full"]
			}
			t.Logf("wire frames %d; stack offload %+v; tcp GSO %d frames / %d segments; driver TSO sends %d",
				w.frames.Load(), os, ts.GSOFrames, ts.GSOSegments, tso)
			// A full ring drops frames (TCP sends them again); nothing
			// else may fail.
			if bad != 0 || os.TxErrors > full {
				t.Errorf("offload requests refused: driver %d, stack %d (ring full %d)", bad, os.TxErrors, full)
			}
			if c.csum != (os.TxCsumFrames > 0) || c.tso != (os.TxGSOFrames > 0) || c.tso != (tso > 0) {
				t.Errorf("offload use does not match the device: %+v, driver TSO %d", os, tso)
			}
			if c.tso && tso != os.TxGSOFrames {
				t.Errorf("driver sent %d TSO frames, stack asked for %d", tso, os.TxGSOFrames)
			}
			if c.dataValid != (os.RxValidated > 0) || c.dataValid != (ts.CsumValidatedIn > 0) {
				t.Errorf("DATA_VALID frames: stack %d, tcp %d", os.RxValidated, ts.CsumValidatedIn)
			}
		})
	}
}
