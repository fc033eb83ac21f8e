package vnet

import "sync"

// Recycling of received frames. A frame that spans several receive
// buffers (a coalesced TCP frame of up to 64 KiB with GUEST_TSO4) is
// copied into a buffer of its own, which the receiver owns
// (link.Receiver). A receiver that is done with such a frame and kept
// nothing of it (a TCP stack copies the payload into its receive buffer)
// may hand it back with RecycleRx; the next large frame is assembled into
// it instead of a new allocation. At streaming rates that is 64 KiB per
// frame less garbage, and so fewer collections.

// recycleMin is the smallest assembled frame whose buffer is pooled:
// small multi-buffer frames get a buffer of their own size, as before.
const recycleMin = 16 << 10

// framePoolMax bounds the buffers kept: enough for the frames of a few
// poll rounds in flight between the poller and the protocol threads.
const framePoolMax = 32

// framePool holds returned frame buffers, all of capacity size (the
// device's largest frame). The poller takes, protocol threads give back.
type framePool struct {
	mu                              sync.Mutex
	free                            [][]byte
	size                            int // capacity of every pooled buffer: the device's largest frame (readConfig)
	hits, misses, returned, refused uint64
}

// get returns an empty buffer with room for need bytes.
func (fp *framePool) get(need int) []byte {
	fp.mu.Lock()
	size := fp.size
	if need <= size {
		if n := len(fp.free); n > 0 {
			b := fp.free[n-1]
			fp.free[n-1] = nil
			fp.free = fp.free[:n-1]
			fp.hits++
			fp.mu.Unlock()
			return b[:0]
		}
	}
	fp.misses++
	fp.mu.Unlock()
	return make([]byte, 0, max(need, size))
}

// put keeps b for reuse if it is one of ours by size and there is room.
func (fp *framePool) put(b []byte) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.size == 0 || cap(b) != fp.size || len(fp.free) >= framePoolMax {
		fp.refused++
		return
	}
	fp.returned++
	fp.free = append(fp.free, b[:0])
}

// RecycleRx hands back a received frame the receiver is done with: it
// must keep no reference to any part of it. Frames that were not
// assembled into a pooled buffer are ignored (dropped to the collector).
// Safe from any goroutine.
func (d *Device) RecycleRx(frame []byte) { d.frames.put(frame) }

// FramePoolStats counts the pool's use: gets served from it (Hits) or
// by allocation (Misses), frames handed back and kept (Returned) or not
// (Refused: not a pooled size, or the pool full).
type FramePoolStats struct{ Hits, Misses, Returned, Refused uint64 }

// FramePool returns the receive frame pool's counters.
func (d *Device) FramePool() FramePoolStats {
	fp := &d.frames
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return FramePoolStats{fp.hits, fp.misses, fp.returned, fp.refused}
}
