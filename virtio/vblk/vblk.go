// Package vblk is the virtio-blk driver (virtio 1.2 §5.2). It implements
// blk.Driver: the block layer's device thread submits merged requests,
// which become descriptor chains (header, data pages, status byte) on one
// of the device's queues; the interrupt handler reaps the used rings and
// completes them.
//
// Not negotiated: VIRTIO_BLK_F_SIZE_MAX (a per-segment size limit; the
// driver would have to split segments, and QEMU does not offer it),
// WRITE_ZEROES, SECURE_ERASE, CONFIG_WCE, GEOMETRY, TOPOLOGY.
package vblk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"damselfly/blk"
	"damselfly/virtio"
)

// Feature bits (§5.2.3).
const (
	FeatureSizeMax  = 1 << 1
	FeatureSegMax   = 1 << 2
	FeatureGeometry = 1 << 4
	FeatureRO       = 1 << 5
	FeatureBlkSize  = 1 << 6
	FeatureFlush    = 1 << 9
	FeatureTopology = 1 << 10
	FeatureMQ       = 1 << 12
	FeatureDiscard  = 1 << 13
)

// struct virtio_blk_config offsets (§5.2.4).
const (
	CfgCapacity          = 0
	CfgSizeMax           = 8
	CfgSegMax            = 12
	CfgBlkSize           = 20
	CfgNumQueues         = 34
	CfgMaxDiscardSectors = 36
	CfgMaxDiscardSeg     = 40
	CfgDiscardAlign      = 44
)

// Request types and status values (§5.2.6).
const (
	TypeIn      = 0
	TypeOut     = 1
	TypeFlush   = 4
	TypeGetID   = 8
	TypeDiscard = 11

	StatusOK     = 0
	StatusIOErr  = 1
	StatusUnsupp = 2

	headerLen = 16 // le32 type; le32 reserved; le64 sector
	idLen     = 20 // VIRTIO_BLK_ID_BYTES
	// Sector is virtio-blk's addressing unit, whatever blk_size says.
	Sector = 512
)

// Options tune the driver.
type Options struct {
	Name      string
	Queues    int // most queues to use when the device offers MQ (default 4)
	QueueSize int // entries per queue (default min(device max, 256))
}

type vq struct {
	q    *virtio.Queue
	mu   sync.Mutex
	cond *sync.Cond // Submit waits here when the ring is full
	dead error
}

type request struct {
	hdr    []byte
	status []byte
	extra  []byte // discard segments or the ID buffer
	done   func(error)
}

// Device is a virtio-blk device.
type Device struct {
	name     string
	t        virtio.Transport
	dma      virtio.DMA
	features uint64
	size     int64
	segMax   int
	blkSize  int    // logical block size: I/O granule (blk_size, else 512)
	maxDS    uint32 // max_discard_sectors
	maxDSeg  uint32
	qs       []*vq
	next     atomic.Uint32

	Interrupts atomic.Uint64
}

// New negotiates with the device, sets up its queues and sets DRIVER_OK.
func New(t virtio.Transport, dma virtio.DMA, o Options) (*Device, error) {
	if t.DeviceID() != virtio.DeviceBlock {
		return nil, fmt.Errorf("vblk: device id %d is not a block device", t.DeviceID())
	}
	if o.Name == "" {
		o.Name = "vblk"
	}
	want := uint64(FeatureRO | FeatureBlkSize | FeatureFlush | FeatureSegMax | FeatureMQ | FeatureDiscard |
		virtio.FeatureIndirectDesc | virtio.FeatureEventIdx)
	f, err := virtio.Init(t, want)
	if err != nil {
		return nil, fmt.Errorf("vblk: %s: %w", o.Name, err)
	}
	d := &Device{name: o.Name, t: t, dma: dma, features: f}
	d.size = int64(virtio.ReadConfig64(t, CfgCapacity)) * Sector
	if d.size < 0 || d.size/Sector != int64(virtio.ReadConfig64(t, CfgCapacity)) {
		virtio.Fail(t)
		return nil, fmt.Errorf("vblk: %s: capacity out of range", o.Name)
	}
	nq := 1
	if f&FeatureMQ != 0 {
		want := o.Queues
		if want <= 0 {
			want = 4
		}
		nq = max(1, min(int(t.ReadConfig16(CfgNumQueues)), want))
	}
	d.blkSize = Sector
	if f&FeatureBlkSize != 0 {
		// Use blk_size as the I/O granule when it is sane and divides the
		// capacity; otherwise stay with 512-byte sectors (always valid).
		bs := int64(t.ReadConfig32(CfgBlkSize))
		if bs >= Sector && bs <= 1<<16 && bs&(bs-1) == 0 && d.size%bs == 0 {
			d.blkSize = int(bs)
		}
	}
	if f&FeatureSegMax != 0 {
		d.segMax = int(t.ReadConfig32(CfgSegMax))
	}
	if f&FeatureDiscard != 0 {
		d.maxDS = t.ReadConfig32(CfgMaxDiscardSectors)
		d.maxDSeg = max(t.ReadConfig32(CfgMaxDiscardSeg), 1)
	}
	for i := 0; i < nq; i++ {
		size := t.MaxQueueSize(i)
		if o.QueueSize > 0 {
			size = min(size, o.QueueSize)
		}
		size = min(size, 256)
		for size&(size-1) != 0 { // largest power of two not above it
			size &= size - 1
		}
		if size < 2 {
			virtio.Fail(t)
			return nil, fmt.Errorf("vblk: %s: queue %d unusable (size %d)", o.Name, i, size)
		}
		q, err := virtio.NewQueue(i, size, dma, f, t.Notify)
		if err != nil {
			virtio.Fail(t)
			return nil, fmt.Errorf("vblk: %s: %w", o.Name, err)
		}
		if err := t.SetQueue(q); err != nil {
			virtio.Fail(t)
			return nil, fmt.Errorf("vblk: %s: %w", o.Name, err)
		}
		v := &vq{q: q}
		v.cond = sync.NewCond(&v.mu)
		d.qs = append(d.qs, v)
	}
	virtio.Ready(t)
	return d, nil
}

func (d *Device) Name() string              { return d.name }
func (d *Device) Size() int64               { return d.size }
func (d *Device) ReadOnly() bool            { return d.features&FeatureRO != 0 }
func (d *Device) Features() uint64          { return d.features }
func (d *Device) NumQueues() int            { return len(d.qs) }
func (d *Device) Queue(i int) *virtio.Queue { return d.qs[i].q }

// Limits: a chain may not be longer than the queue (§2.7.5.3.1), nor carry
// more data segments than seg_max.
func (d *Device) Limits() blk.Limits {
	qsize := d.qs[0].q.Size()
	segs := qsize - 2
	if d.segMax > 0 {
		segs = min(segs, d.segMax)
	}
	segs = max(segs, 1)
	depth := 0
	for _, v := range d.qs {
		if d.features&virtio.FeatureIndirectDesc != 0 {
			depth += v.q.Size()
		} else {
			depth += max(v.q.Size()/(segs+2), 1)
		}
	}
	return blk.Limits{
		SectorSize:  d.blkSize,
		MaxTransfer: 1 << 20,
		MaxSegments: segs,
		QueueDepth:  depth,
		Flush:       d.features&FeatureFlush != 0,
		Discard:     d.features&FeatureDiscard != 0 && d.maxDS > 0,
	}
}

func header(typ uint32, off int64) []byte {
	h := make([]byte, headerLen)
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint64(h[8:], uint64(off/Sector))
	return h
}

// Submit starts a block-layer request.
func (d *Device) Submit(r *blk.Request) {
	rq := &request{status: []byte{0xff}, done: r.Complete}
	var out, in [][]byte
	switch r.Op {
	case blk.OpRead:
		rq.hdr = header(TypeIn, r.Off)
		out = [][]byte{rq.hdr}
		in = append(append(in, r.Segs...), rq.status)
	case blk.OpWrite:
		rq.hdr = header(TypeOut, r.Off)
		out = append([][]byte{rq.hdr}, r.Segs...)
		in = [][]byte{rq.status}
	case blk.OpFlush:
		rq.hdr = header(TypeFlush, 0)
		out, in = [][]byte{rq.hdr}, [][]byte{rq.status}
	case blk.OpDiscard:
		segs, err := d.discardSegs(r.Off, r.Len)
		if err != nil {
			r.Complete(err)
			return
		}
		rq.hdr, rq.extra = header(TypeDiscard, 0), segs
		out, in = [][]byte{rq.hdr, segs}, [][]byte{rq.status}
	default:
		r.Complete(blk.ErrUnsupported)
		return
	}
	d.startOn(rq, out, in, r.CPU)
}

// discardSegs builds struct virtio_blk_discard_write_zeroes entries
// (le64 sector; le32 num_sectors; le32 flags) within the device's limits.
func (d *Device) discardSegs(off, n int64) ([]byte, error) {
	per := int64(d.maxDS) * Sector
	count := (n + per - 1) / per
	if count > int64(d.maxDSeg) {
		return nil, fmt.Errorf("%w: discard of %d bytes needs %d segments, device takes %d", blk.ErrUnsupported, n, count, d.maxDSeg)
	}
	b := make([]byte, 16*count)
	for i := int64(0); i < count; i++ {
		s := b[16*i:]
		c := min(per, n-i*per)
		binary.LittleEndian.PutUint64(s[0:], uint64((off+i*per)/Sector))
		binary.LittleEndian.PutUint32(s[8:], uint32(c/Sector))
	}
	return b, nil
}

func (d *Device) start(rq *request, out, in [][]byte) { d.startOn(rq, out, in, 0) }

// startOn queues rq on the submitting CPU's queue (cpu is CPU + 1), or
// round-robin when the CPU is unknown.
func (d *Device) startOn(rq *request, out, in [][]byte, cpu int) {
	var v *vq
	if cpu > 0 {
		v = d.qs[(cpu-1)%len(d.qs)]
	} else {
		v = d.qs[int(d.next.Add(1))%len(d.qs)]
	}
	v.mu.Lock()
	for {
		if v.dead != nil {
			v.mu.Unlock()
			rq.done(fmt.Errorf("%w: %v", blk.ErrIO, v.dead))
			return
		}
		err := v.q.Add(out, in, rq)
		if err == nil {
			break
		}
		if !errors.Is(err, virtio.ErrQueueFull) {
			v.dead = err
			continue
		}
		v.cond.Wait()
	}
	v.mu.Unlock()
	v.q.Kick()
}

// Interrupt is the device's interrupt handler (and its poll routine when
// interrupts are not wired): acknowledge, reap every queue, complete.
func (d *Device) Interrupt() {
	d.Interrupts.Add(1)
	d.t.AckInterrupt()
	for _, v := range d.qs {
		d.reap(v)
	}
}

// InterruptQueue is the handler of an MSI-X vector that serves queue i:
// reap that queue only (no ISR with MSI-X, §4.1.4.5).
func (d *Device) InterruptQueue(i int) {
	d.Interrupts.Add(1)
	if i >= 0 && i < len(d.qs) {
		d.reap(d.qs[i])
	}
}

// Poll reaps every queue without touching the interrupt status: the
// block layer's poll path (blk.Poller) when interrupts are not delivered.
func (d *Device) Poll() {
	for _, v := range d.qs {
		d.reap(v)
	}
}

func (d *Device) reap(v *vq) {
	cs, err := v.q.Poll(nil)
	if len(cs) > 0 {
		v.mu.Lock()
		v.cond.Broadcast()
		v.mu.Unlock()
	}
	for _, c := range cs {
		rq := c.Token.(*request)
		switch rq.status[0] {
		case StatusOK:
			rq.done(nil)
		case StatusUnsupp:
			rq.done(blk.ErrUnsupported)
		case StatusIOErr:
			rq.done(blk.ErrIO)
		default:
			rq.done(fmt.Errorf("%w: device returned status %#x", blk.ErrIO, rq.status[0]))
		}
	}
	if err != nil {
		// The device broke the ring: fail what it still holds, once.
		v.mu.Lock()
		first := v.dead == nil
		if first {
			v.dead = err
		}
		v.cond.Broadcast()
		v.mu.Unlock()
		if first {
			for _, tk := range v.q.Outstanding() {
				tk.(*request).done(fmt.Errorf("%w: %v", blk.ErrIO, err))
			}
		}
	}
}

// ID asks the device for its serial (GET_ID, up to 20 bytes).
func (d *Device) ID() (string, error) {
	rq := &request{hdr: header(TypeGetID, 0), status: []byte{0xff}, extra: make([]byte, idLen)}
	ch := make(chan error, 1)
	rq.done = func(err error) { ch <- err }
	d.start(rq, [][]byte{rq.hdr}, [][]byte{rq.extra, rq.status})
	if err := <-ch; err != nil {
		return "", fmt.Errorf("vblk: %s: get id: %w", d.name, err)
	}
	id := rq.extra
	for i, c := range id {
		if c == 0 {
			id = id[:i]
			break
		}
	}
	return string(id), nil
}
