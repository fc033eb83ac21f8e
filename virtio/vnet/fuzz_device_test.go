package vnet_test

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"

	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// FuzzRxDevice runs the whole receive path (core queue, NAPI poll, held
// completions, mergeable reassembly, checksum completion, refill) against
// a simulated device that lies as the input says: for each frame, a size,
// a replacement virtio_net_hdr and a replacement used length for its first
// buffer. Afterwards honest frames must still get through intact, and
// nothing handed to the stack may be shorter than an Ethernet header or
// longer than the link allows.
func FuzzRxDevice(f *testing.F) {
	f.Add([]byte{0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x20, 1, 0, 0, 0, 0, 34, 0, 16, 0, 1, 0, 0, 0})
	f.Add([]byte{0xff, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		type lie struct {
			hdr  []byte
			used int
		}
		var mu sync.Mutex
		var lies []lie
		var sizes []int
		for len(in) >= 15 && len(sizes) < 32 {
			sizes = append(sizes, 14+int(in[0])*8)
			lies = append(lies, lie{hdr: append([]byte(nil), in[1:13]...), used: int(binary.LittleEndian.Uint16(in[13:]))})
			in = in[15:]
		}
		if len(sizes) == 0 {
			return
		}
		// With GUEST_TSO4 a lying num_buffers can claim a 64 KiB frame:
		// 257 buffers of 256 bytes. Without it, at most 7.
		tso := sizes[0]%16 == 6
		opts := vnet.Options{QueueSize: 16, RxBufSize: 256, Budget: 4}
		maxLen, sentinels := 14+4+1500, 40
		if tso {
			maxLen, sentinels = 14+4+65535, 300
		} else {
			opts.Disable = vnet.FeatureGuestTSO4
		}
		r := newRig(t, false, vnetsim.Options{Mangle: func(h []byte, lens []uint32) {
			mu.Lock()
			defer mu.Unlock()
			if len(lies) == 0 {
				return
			}
			l := lies[0]
			lies = lies[1:]
			copy(h, l.hdr)
			if l.used != 0 {
				lens[0] = uint32(l.used)
			}
		}}, opts)
		for _, n := range sizes {
			r.sim.Inject(rawFrame(0, n), vnetsim.RxOpts{Queue: 0})
		}
		// Honest frames: a lie about num_buffers may swallow a few, but
		// not all of them.
		good := rawFrame(1, 200)
		for range sentinels {
			r.sim.Inject(good, vnetsim.RxOpts{Queue: 0})
		}
		for seen := 0; ; {
			x := r.recv(t)
			if len(x.f) < 14 || len(x.f) > maxLen {
				t.Fatalf("frame of %d bytes handed on", len(x.f))
			}
			if bytes.Equal(x.f, good) {
				seen++
				if seen == sentinels/10 {
					return
				}
			}
		}
	})
}
