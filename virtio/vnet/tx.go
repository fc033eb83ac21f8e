package vnet

// Transmit path (virtio 1.2 §5.1.6.2). Each frame is preceded by a
// virtio_net_hdr. Send (the link.Endpoint method) may not keep the
// caller's frame, so it copies header and frame into one recycled buffer:
// one descriptor, no indirect table, no allocation once warm. SendSG puts
// the header and the caller's buffers in one chain (an indirect table when
// negotiated) and hands the buffers back through a callback: the
// zero-copy path, and the one that asks for checksum and TSO offload.
//
// Completions are reclaimed by the senders themselves before each send
// (Linux's free_old_xmit), with the queue's interrupt off; it is switched
// on only while scatter-gather buffers wait for their callbacks. A ring
// that is still full after reclaiming drops the frame (ErrTxFull, counted):
// a protocol thread never blocks on the device.

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"damselfly/net/link"
	"damselfly/virtio"

	"damselfly/internal/chunkcopy"
)

type txBuf struct {
	b    []byte // header + frame (copy mode) or header only (SG mode)
	done func() // SG mode: the caller's completion
}

type txq struct {
	mu    sync.Mutex
	q     *virtio.Queue
	ctl   *irqCtl
	free  []*txBuf
	cs    []virtio.Completion
	sgOut atomic.Int32 // SG requests in flight (the interrupt reclaims them)
	dead  error
	// unkicked counts frames added by SendOffloadDeferred since the last
	// Kick (written under mu; read without it by FlushTx).
	unkicked atomic.Int32
}

// kickBatch is the most frames SendOffloadDeferred adds before it kicks
// anyway: the device starts on a long burst while the rest is built.
const kickBatch = 8

// Offload asks the device to finish a transmitted frame (SendSG).
type Offload struct {
	// Csum: compute the checksum from CsumStart to the end of the frame
	// and store it at CsumStart+CsumOffset, whose field holds the
	// pseudo-header sum (VIRTIO_NET_HDR_F_NEEDS_CSUM; needs CSUM).
	Csum                  bool
	CsumStart, CsumOffset uint16
	// GSOSize > 0: the frame is one large TCPv4 segment the device cuts
	// into GSOSize-byte payloads (needs HOST_TSO4 and Csum); HdrLen is
	// the length of the Ethernet, IP and TCP headers.
	GSOSize, HdrLen uint16
}

// reclaim collects finished transmissions; t.mu held. It returns the
// callbacks of finished SG requests, which the caller runs after
// unlocking (a callback may send again).
func (t *txq) reclaim(st *queueStats) (dones []func()) {
	cs, err := t.q.Poll(t.cs[:0])
	for i := range cs {
		tb := cs[i].Token.(*txBuf)
		if tb.done != nil {
			dones = append(dones, tb.done)
			tb.done = nil
			t.sgOut.Add(-1)
		}
		t.free = append(t.free, tb)
	}
	st.txReclaimed.Add(uint64(len(cs)))
	clear(cs)
	t.cs = cs[:0]
	if t.sgOut.Load() == 0 {
		t.ctl.disable()
	}
	if err != nil && t.dead == nil {
		t.dead = err
		st.drop(DropBroken)
		// The device keeps what it holds; the callbacks of SG requests
		// still run so their owners are not left waiting.
		for _, tk := range t.q.Outstanding() {
			if tb := tk.(*txBuf); tb.done != nil {
				dones = append(dones, tb.done)
				tb.done = nil
			}
		}
	}
	return dones
}

func runDones(dones []func()) {
	for _, f := range dones {
		f()
	}
}

func (t *txq) buf(n int) *txBuf {
	if k := len(t.free); k > 0 {
		tb := t.free[k-1]
		t.free = t.free[:k-1]
		if cap(tb.b) >= n {
			tb.b = tb.b[:n]
			return tb
		}
	}
	return &txBuf{b: make([]byte, n, max(n, 2048))}
}

// send is Send on this pair.
func (p *pair) send(frame []byte) error { return p.sendCopy(frame, Offload{}, false) }

// sendCopy copies the header and frame into one recycled buffer, with
// the header asking for o (SendOffload; Send asks for nothing). With
// deferKick the device is notified only every kickBatch frames or by
// FlushTx.
func (p *pair) sendCopy(frame []byte, o Offload, deferKick bool) error {
	d := p.d
	if d.closed.Load() {
		return fmt.Errorf("vnet: %s: %w", d.name, link.ErrClosed)
	}
	limit := d.maxTx
	if o.GSOSize > 0 {
		limit = ethHeaderLen + vlanTagLen + maxIPPacket
	}
	if len(frame) > limit {
		p.st.drop(DropTxTooLong)
		return fmt.Errorf("vnet: %s: frame of %d bytes exceeds %d", d.name, len(frame), limit)
	}
	if o != (Offload{}) {
		if err := d.checkOffload(o, len(frame)); err != nil {
			p.st.drop(DropTxBadOffload)
			return err
		}
	}
	t := p.tx
	t.mu.Lock()
	dones := t.reclaim(&p.st)
	defer runDones(dones)
	defer t.mu.Unlock()
	if t.dead != nil {
		p.st.drop(DropBroken)
		return fmt.Errorf("vnet: %s: queue %d: %w", d.name, p.index, t.dead)
	}
	tb := t.buf(d.hdrLen + len(frame))
	o.put(Header(tb.b[:d.hdrLen])) // no offload: flags 0, GSO_NONE
	chunkcopy.Copy(tb.b[d.hdrLen:], frame)
	return p.post(tb, [][]byte{tb.b}, len(frame), o.GSOSize > 0, deferKick)
}

// put writes o into a transmit header (all of it: the buffer is
// recycled).
func (o Offload) put(h Header) {
	clear(h)
	if o.Csum {
		h.SetFlags(HdrFNeedsCsum)
		h.SetCsumStart(o.CsumStart)
		h.SetCsumOffset(o.CsumOffset)
	}
	if o.GSOSize > 0 {
		h.SetGSOType(GSOTCPv4)
		h.SetGSOSize(o.GSOSize)
		h.SetHdrLen(o.HdrLen)
	}
}

// post adds a chain and kicks, or with deferKick counts it as not yet
// notified and kicks only when kickBatch have been; t.mu held.
func (p *pair) post(tb *txBuf, out [][]byte, n int, tso, deferKick bool) error {
	t := p.tx
	err := t.q.Add(out, nil, tb)
	if errors.Is(err, virtio.ErrQueueFull) {
		t.free = append(t.free, tb)
		if t.unkicked.Load() > 0 { // let the device drain what waits
			t.unkicked.Store(0)
			p.st.txKicks.Add(1)
			t.q.Kick()
		}
		p.st.drop(DropTxFull)
		return fmt.Errorf("vnet: %s: queue %d: %w", p.d.name, p.index, ErrTxFull)
	}
	if err != nil {
		t.free = append(t.free, tb)
		p.st.drop(DropBroken)
		return fmt.Errorf("vnet: %s: queue %d: %w", p.d.name, p.index, err)
	}
	if t.sgOut.Load() == 0 {
		t.ctl.disable() // Add rewrote the avail flags
	}
	p.st.txFrames.Add(1)
	p.st.txBytes.Add(uint64(n))
	if tso {
		p.st.txTSO.Add(1)
	}
	if deferKick && t.unkicked.Add(1) < kickBatch {
		p.st.txDeferred.Add(1)
		return nil
	}
	t.unkicked.Store(0)
	p.st.txKicks.Add(1)
	t.q.Kick()
	return nil
}

// flush kicks for frames added without a kick.
func (p *pair) flush() {
	t := p.tx
	if t.unkicked.Load() == 0 {
		return
	}
	t.mu.Lock()
	if t.unkicked.Load() > 0 && t.dead == nil {
		t.unkicked.Store(0)
		p.st.txKicks.Add(1)
		t.q.Kick()
	}
	t.mu.Unlock()
}

// sendSG is Queue.SendSG.
func (p *pair) sendSG(bufs [][]byte, o Offload, done func()) error {
	d := p.d
	if d.closed.Load() {
		return fmt.Errorf("vnet: %s: %w", d.name, link.ErrClosed)
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	limit := d.maxTx
	if o.GSOSize > 0 {
		limit = ethHeaderLen + vlanTagLen + maxIPPacket
	}
	if n > limit || n < ethHeaderLen {
		p.st.drop(DropTxTooLong)
		return fmt.Errorf("vnet: %s: frame of %d bytes (limit %d)", d.name, n, limit)
	}
	if err := d.checkOffload(o, n); err != nil {
		p.st.drop(DropTxBadOffload)
		return err
	}
	t := p.tx
	t.mu.Lock()
	dones := t.reclaim(&p.st)
	defer runDones(dones)
	defer t.mu.Unlock()
	if t.dead != nil {
		p.st.drop(DropBroken)
		return fmt.Errorf("vnet: %s: queue %d: %w", d.name, p.index, t.dead)
	}
	tb := t.buf(d.hdrLen)
	o.put(Header(tb.b))
	tb.done = done
	if done != nil {
		if t.sgOut.Add(1) == 1 {
			t.ctl.enable() // the interrupt reclaims when nobody sends
		}
	}
	out := make([][]byte, 0, 1+len(bufs))
	out = append(append(out, tb.b), bufs...)
	err := p.post(tb, out, n, o.GSOSize > 0, false)
	if err != nil && done != nil {
		tb.done = nil
		t.sgOut.Add(-1)
	}
	return err
}

func (d *Device) checkOffload(o Offload, n int) error {
	if o.Csum {
		if d.features&FeatureCsum == 0 {
			return fmt.Errorf("vnet: %s: checksum offload not negotiated", d.name)
		}
		if int(o.CsumStart) < ethHeaderLen || int(o.CsumStart)+int(o.CsumOffset)+2 > n {
			return fmt.Errorf("vnet: %s: checksum at %d+%d outside a %d-byte frame", d.name, o.CsumStart, o.CsumOffset, n)
		}
	}
	if o.GSOSize > 0 {
		if d.features&FeatureHostTSO4 == 0 || !o.Csum {
			return fmt.Errorf("vnet: %s: TSO needs HOST_TSO4 and checksum offload", d.name)
		}
		if int(o.HdrLen) < ethHeaderLen+ipMinHeader+20 || int(o.HdrLen) > n {
			return fmt.Errorf("vnet: %s: TSO header length %d", d.name, o.HdrLen)
		}
	}
	return nil
}

// Offloads reports what SendSG may ask of the device.
func (d *Device) Offloads() (csum, tso4 bool) {
	return d.features&FeatureCsum != 0, d.features&FeatureHostTSO4 != 0
}
