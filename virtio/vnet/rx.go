package vnet

// Receive path (virtio 1.2 §5.1.6.3, §5.1.6.4).
//
// Every receive buffer is one device-writable descriptor holding the
// virtio_net_hdr and frame bytes (VERSION_1 lets the header share a buffer
// with data, §5.1.6.6). Without MRG_RXBUF a buffer holds a whole frame.
// With it the device writes the header once, in the first buffer, and sets
// num_buffers to the count of consecutive used entries the frame spans
// (§5.1.6.4.2).
//
// Ownership: link.Receiver owns the frame it is given. A frame that fits
// one buffer is handed over in that buffer (no copy) and the refill
// allocates a replacement, unless it is short (Options.CopyBreak): then it
// is copied into a slice of its size and the buffer reposted. A frame
// spanning several buffers is copied out as they arrive and the buffers
// are reposted as they are.
//
// The device is not trusted: the assembler checks every length against
// the buffer and the link, and a refused frame is counted and its buffers
// recycled.

import (
	"sync"

	"damselfly/net/checksum"
	"damselfly/net/link"
	"damselfly/virtio"
)

type rxBuf struct{ b []byte }

type rxq struct {
	mu      sync.Mutex // one poller at a time; guards everything below
	q       *virtio.Queue
	ctl     *irqCtl
	bufSize int
	cs      []virtio.Completion
	held    []virtio.Completion // polled, over the budget: next round's
	spare   []*rxBuf            // recycled buffers waiting to be posted
	asm     assembler
	dead    error
}

func newRxq(d *Device, q *virtio.Queue, c *irqCtl, bufSize int) *rxq {
	return &rxq{q: q, ctl: c, bufSize: bufSize, cs: make([]virtio.Completion, 0, q.Size()),
		asm: assembler{
			hdrLen: d.hdrLen, mrg: d.features&FeatureMrgRxBuf != 0, maxFrame: d.maxFrame, maxPlain: d.maxTx,
			bufSize:    bufSize,
			copyBreak:  d.copyBreak,
			finishCsum: d.finishCsum,
			frames:     &d.frames,
			guestTSO:   d.features&FeatureGuestTSO4 != 0,
			guestCsum:  d.features&FeatureGuestCsum != 0,
		}}
}

// refill posts buffers until the ring is full (a buffer is one descriptor).
func (r *rxq) refill(st *queueStats) {
	for r.dead == nil && r.q.NumFree() > 0 {
		var rb *rxBuf
		if n := len(r.spare); n > 0 {
			rb, r.spare = r.spare[n-1], r.spare[:n-1]
		} else {
			rb = &rxBuf{b: make([]byte, r.bufSize)}
		}
		if err := r.q.Add(nil, [][]byte{rb.b}, rb); err != nil {
			r.spare = append(r.spare, rb)
			break
		}
		st.refills.Add(1)
	}
}

// assembler turns used receive buffers into frames. It keeps the state of
// a frame whose buffers have not all been returned yet, so a device that
// publishes a frame's buffers one used-index update at a time is handled.
type assembler struct {
	hdrLen   int
	mrg      bool
	guestTSO bool
	// guestCsum: GUEST_CSUM negotiated, so DATA_VALID may be believed.
	guestCsum bool
	maxFrame  int // longest frame at all (64 KiB with GUEST_TSO4)
	maxPlain  int // longest frame without GSO (the link's MTU)
	bufSize   int
	// copyBreak: one-buffer frames up to this length are copied out.
	copyBreak int
	// finishCsum: complete NEEDS_CSUM checksums (Options.FinishRxCsum).
	finishCsum bool
	// frames recycles the buffers of large assembled frames (recycle.go).
	frames *framePool

	// The frame being assembled from several buffers.
	frame  []byte
	hdr    [HeaderHashLen]byte
	want   int // buffers the frame spans
	got    int
	cur    int  // its size limit
	tooBig bool // over cur: keep consuming its buffers, then drop
}

// rxFrame is one finished frame.
type rxFrame struct {
	b   []byte
	rss link.RSS
	gso bool // a coalesced TCPv4 frame (GUEST_TSO4)
}

// push takes one used buffer with n bytes written (n is at most len(buf):
// the core clamps it). It returns a finished frame, if this buffer
// completes one, and whether buf itself was handed over inside it (so the
// caller must not reuse it).
func (a *assembler) push(buf []byte, n int, st *queueStats) (f rxFrame, ok, handed bool) {
	if n > len(buf) {
		n = len(buf) // never trust a caller either
	}
	if a.want > 0 {
		return a.more(buf[:n], st)
	}
	if n < a.hdrLen {
		st.drop(DropShortHeader)
		return f, false, false
	}
	h := Header(buf[:a.hdrLen])
	// The header is checked before num_buffers is believed: the frame's
	// size limit (and so the most buffers it can span) depends on whether
	// it is a coalesced TCP frame.
	limit, ok := a.limit(h)
	if !ok {
		st.drop(DropGSO)
		return f, false, false
	}
	nb := 1
	if a.mrg {
		nb = int(h.NumBuffers())
		// The most buffers a frame can need (§5.1.6.3.1 sizes them).
		if nb == 0 || nb > (a.hdrLen+limit+a.bufSize-1)/a.bufSize {
			st.drop(DropNumBuffers)
			return f, false, false
		}
	}
	data := buf[a.hdrLen:n]
	if nb == 1 {
		if len(data) <= a.copyBreak {
			// Small frames (ACKs, ARP) are copied into a slice of their
			// size and the buffer reposted: a 60-byte frame must not pin
			// a 1.5 KiB buffer while it waits in a protocol thread's inbox.
			small := make([]byte, len(data))
			copy(small, data)
			f, ok = a.finish(h, small, st)
			return f, ok, false
		}
		f, ok = a.finish(h, data, st)
		return f, ok, ok
	}
	// First of several buffers: copy out and wait for the rest.
	a.want, a.got, a.cur = nb, 1, limit
	copy(a.hdr[:], h)
	a.tooBig = false
	if need := min(nb*a.bufSize, limit); need >= recycleMin && a.frames != nil {
		a.frame = a.frames.get(need)
	} else {
		a.frame = make([]byte, 0, need)
	}
	a.frame = append(a.frame, data...)
	return f, false, false
}

func (a *assembler) more(data []byte, st *queueStats) (f rxFrame, ok, handed bool) {
	a.got++
	if !a.tooBig {
		if len(a.frame)+len(data) > a.cur {
			a.tooBig = true
			a.frame = nil
		} else {
			a.frame = append(a.frame, data...)
		}
	}
	if a.got < a.want {
		return f, false, false
	}
	a.want = 0
	st.rxMerged.Add(1)
	if a.tooBig {
		st.drop(DropTooLong)
		return f, false, false
	}
	fr := a.frame
	a.frame = nil
	f, ok = a.finish(Header(a.hdr[:a.hdrLen]), fr, st)
	return f, ok, false
}

// limit is the longest frame the header allows: the link's for GSO_NONE,
// 64 KiB for a coalesced TCPv4 frame when GUEST_TSO4 was negotiated;
// false for any other gso_type.
func (a *assembler) limit(h Header) (int, bool) {
	switch h.GSOType() &^ GSOECN {
	case GSONone:
		return a.maxPlain, true
	case GSOTCPv4:
		return a.maxFrame, a.guestTSO
	}
	return 0, false
}

// abandon drops a partly assembled frame (the queue died under it).
func (a *assembler) abandon(st *queueStats) {
	if a.want > 0 {
		st.drop(DropMissingBufs)
	}
	a.want, a.frame = 0, nil
}

// finish validates a whole frame against its header.
func (a *assembler) finish(h Header, data []byte, st *queueStats) (f rxFrame, ok bool) {
	if len(data) < ethHeaderLen {
		st.drop(DropRunt)
		return f, false
	}
	limit, ok := a.limit(h)
	if !ok {
		st.drop(DropGSO)
		return f, false
	}
	if len(data) > limit {
		st.drop(DropTooLong)
		return f, false
	}
	fl := h.Flags()
	if fl&HdrFNeedsCsum != 0 {
		// §5.1.6.4.1: the checksum from csum_start to the end is still
		// to be computed and stored at csum_start + csum_offset (the
		// field holds the pseudo-header sum), and the device has
		// validated the packet. The offsets are checked either way: a
		// device that lies about them is refused.
		start, off := int(h.CsumStart()), int(h.CsumOffset())
		if start < ethHeaderLen || start >= len(data) || off > len(data)-start-2 {
			st.drop(DropCsumOffsets)
			return f, false
		}
		if a.finishCsum {
			c := checksum.Checksum(data[start:])
			data[start+off], data[start+off+1] = byte(c>>8), byte(c)
			st.rxCsumFixed.Add(1)
		} else {
			st.rxCsumPartial.Add(1)
		}
	} else if fl&HdrFDataValid != 0 {
		st.rxCsumValid.Add(1)
	}
	f.b = data
	f.gso = h.GSOType()&^GSOECN == GSOTCPv4
	if f.gso {
		st.rxGSO.Add(1)
	}
	if a.hdrLen == HeaderHashLen && h.HashReport() == HashReportTCPv4 {
		f.rss = link.RSS{Hash: h.HashValue(), Valid: true}
		st.rxHashed.Add(1)
	}
	// The stack may skip its checksum pass: the device validated the
	// frame (DATA_VALID, honoured only with GUEST_CSUM, or NEEDS_CSUM,
	// which the device sets only with GUEST_CSUM, §5.1.6.4.1).
	f.rss.ChecksumValid = fl&HdrFNeedsCsum != 0 || a.guestCsum && fl&HdrFDataValid != 0
	return f, true
}
