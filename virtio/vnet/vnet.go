// Package vnet is the virtio-net driver (virtio 1.2 §5.1). It presents the
// device to the stack as a link.Endpoint (the whole device) and, per queue
// pair, as a per-CPU endpoint:
//
//   - Feature negotiation (§5.1.3) of VERSION_1, MAC, STATUS, MTU,
//     MRG_RXBUF, CSUM/GUEST_CSUM, HOST_TSO4/GUEST_TSO4, CTRL_VQ, MQ, RSS,
//     HASH_REPORT, EVENT_IDX and INDIRECT_DESC, with the dependencies of
//     §5.1.3.1 enforced before asking.
//   - Receive (§5.1.6.3, §5.1.6.4): buffers posted on every receive queue
//     and refilled after each poll; with MRG_RXBUF a frame spans
//     num_buffers buffers and is reassembled (rx.go); a frame with a
//     partial checksum (NEEDS_CSUM) was validated by the device and is
//     handed on marked so (Options.FinishRxCsum completes it instead); a
//     one-buffer frame is handed to the stack in the buffer the device
//     wrote (no copy).
//   - Transmit (§5.1.6.2): Send copies the frame behind its header into a
//     recycled buffer (link.Endpoint does not let the driver keep the
//     caller's frame); SendSG hands the caller's buffers to the device
//     (scatter-gather, no copy) with checksum and TSO requests.
//   - Multiqueue (§5.1.6.5.5, §5.1.6.5.6): one queue pair per CPU; with RSS
//     the Toeplitz key and a 128-entry indirection table (entry i = i mod N)
//     make the device deliver a connection on the queue of the CPU that the
//     stack's toeplitz partition names; with HASH_REPORT the device's hash
//     rides with each frame as link.RSS (rss.go, ctrl.go).
//   - NAPI-style receive (napi.go): an interrupt disables the queue's
//     interrupts and schedules a poll on the queue's CPU; the poll runs up
//     to a budget, then re-enables and re-checks, race-free with the event
//     index (notify.go).
//   - A misbehaving device (short or overlong used lengths, impossible
//     num_buffers, truncated headers, bad checksum offsets) costs a counted
//     drop, never a panic (stats.go); a broken ring kills its queue.
package vnet

import (
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"damselfly/net/ether"
	"damselfly/net/link"
	"damselfly/virtio"
)

// Options tune the driver. Zero values pick the defaults.
type Options struct {
	Name string
	// Queues is the number of queue pairs wanted: one per CPU (default
	// runtime.NumCPU()); capped by the device's max_virtqueue_pairs.
	Queues int
	// QueueSize is the entries per virtqueue (default min(device, 256)).
	QueueSize int
	// MTU is the IP MTU (default 1500), capped by the device's mtu field.
	MTU int
	// RxBufSize is the size of each posted receive buffer with MRG_RXBUF
	// (default: header + MTU + 18, rounded up to 64 bytes).
	RxBufSize int
	// Budget is the most receive buffers one poll round takes (default 64).
	Budget int
	// CopyBreak: received frames up to this many bytes are copied into a
	// slice of their size and their buffer reused; longer ones are handed
	// over in the buffer the device wrote (default 256; negative: never
	// copy).
	CopyBreak int
	// FinishRxCsum completes partial checksums (NEEDS_CSUM) of received
	// frames in software. By default such a frame is handed on as it came,
	// marked link.RSS.ChecksumValid: the device has validated it (virtio
	// 1.2 §5.1.6.4.1, Linux's CHECKSUM_PARTIAL), and a stack that only
	// receives need not spend a pass over the bytes on a checksum field
	// nobody reads. Set it for a consumer that forwards or captures frames.
	FinishRxCsum bool
	// RSSKey is the Toeplitz key programmed with RSS (default SymmetricKey()).
	RSSKey []byte
	// Disable lists feature bits not to negotiate even when offered.
	Disable uint64
	// Schedule asks for Poll(q) to run soon on the CPU that owns queue
	// pair q (in the kernel: a message to that CPU's thread). It is called
	// from the interrupt handler, must not run the poll inline, and must
	// run one queue's polls one at a time; when Poll returns true it
	// wants to run again. Default: one goroutine per queue.
	Schedule func(q int)
	// OnLink is called when the link status changes (VIRTIO_NET_F_STATUS).
	OnLink func(up bool)
}

// Device is a virtio-net device. It implements link.Endpoint over all its
// queue pairs, and link.RSSKeyed when the device hashes received frames.
type Device struct {
	name       string
	t          virtio.Transport
	dma        virtio.DMA
	features   uint64
	mac        ether.MAC
	mtu        int
	hdrLen     int
	maxFrame   int // longest received frame accepted (Ethernet header on)
	maxTx      int // longest frame Send accepts
	budget     int
	copyBreak  int
	maxPairs   int
	finishCsum bool      // Options.FinishRxCsum
	frames     framePool // large assembled frames handed back by RecycleRx

	pairs    []*pair
	ctrl     *ctrlq
	rssKey   []byte // non-nil when the device hashes with it (RSS or HASH_REPORT)
	steering bool   // RSS programmed: the device picks the queue
	hashRep  bool   // HASH_REPORT configured
	txHash   *toeplitz

	recv     atomic.Pointer[link.Receiver]
	linkUp   atomic.Bool
	closed   atomic.Bool
	onLink   func(bool)
	schedule func(int)

	stop chan struct{}
	wg   sync.WaitGroup

	interrupts, configChanges, ctrlCommands, ctrlErrors atomic.Uint64
}

// pair is receiveq/transmitq number index+1 and its statistics.
type pair struct {
	d     *Device
	index int
	rx    *rxq
	tx    *txq
	st    queueStats
	state atomic.Int32 // napi state, napi.go
	recv  atomic.Pointer[link.Receiver]
	wake  chan struct{}
}

// ErrTxFull is returned by Send when the transmit ring stays full after
// reclaiming finished buffers; the frame is dropped and counted.
var ErrTxFull = errors.New("vnet: transmit ring full")

const (
	defaultQueueSize = 256
	ctrlQueueSize    = 64
	vlanTagLen       = 4
	maxIPPacket      = 65535
)

// New negotiates with the device, sets up its queues, posts receive
// buffers, sets DRIVER_OK and programs multiqueue and RSS.
func New(t virtio.Transport, dma virtio.DMA, o Options) (*Device, error) {
	if t.DeviceID() != virtio.DeviceNet {
		return nil, fmt.Errorf("vnet: device id %d is not a network device", t.DeviceID())
	}
	if o.Name == "" {
		o.Name = "vnet"
	}
	if o.Budget <= 0 {
		o.Budget = 64
	}
	if o.CopyBreak == 0 {
		o.CopyBreak = 256
	}
	if o.Queues <= 0 {
		o.Queues = runtime.NumCPU()
	}
	if o.RSSKey == nil {
		o.RSSKey = SymmetricKey()
	}
	if len(o.RSSKey) != rssKeyLen {
		return nil, fmt.Errorf("vnet: %s: RSS key of %d bytes (want %d)", o.Name, len(o.RSSKey), rssKeyLen)
	}
	want := negotiable(t.DeviceFeatures(), o.Disable)
	f, err := virtio.Init(t, want)
	if err != nil {
		return nil, fmt.Errorf("vnet: %s: %w", o.Name, err)
	}
	d := &Device{name: o.Name, t: t, dma: dma, features: f, budget: o.Budget, copyBreak: o.CopyBreak,
		finishCsum: o.FinishRxCsum,
		onLink:     o.OnLink, schedule: o.Schedule, stop: make(chan struct{})}
	if err := d.readConfig(o); err != nil {
		virtio.Fail(t)
		return nil, err
	}
	if err := d.setupQueues(o); err != nil {
		virtio.Fail(t)
		return nil, err
	}
	for _, p := range d.pairs {
		p.rx.refill(&p.st)
	}
	virtio.Ready(t)
	for _, p := range d.pairs {
		p.rx.q.Kick()
	}
	if err := d.programQueues(o.RSSKey); err != nil {
		virtio.Fail(t)
		return nil, err
	}
	d.txHash = newToeplitz(o.RSSKey)
	if d.schedule == nil {
		d.schedule = d.goSchedule
		for _, p := range d.pairs {
			p.wake = make(chan struct{}, 1)
			d.wg.Add(1)
			go d.pollLoop(p)
		}
	}
	return d, nil
}

// negotiable is the feature set to ask for, given what the device offers:
// everything the driver uses, minus what the caller disabled, minus what
// §5.1.3.1 forbids without its prerequisite.
func negotiable(offered, disable uint64) uint64 {
	want := uint64(virtio.FeatureVersion1 | virtio.FeatureEventIdx | virtio.FeatureIndirectDesc |
		FeatureMAC | FeatureStatus | FeatureMTU | FeatureMrgRxBuf |
		FeatureCsum | FeatureGuestCsum | FeatureHostTSO4 | FeatureGuestTSO4 |
		FeatureCtrlVQ | FeatureMQ | FeatureRSS | FeatureHashReport)
	want &= offered &^ disable
	if want&FeatureCsum == 0 {
		want &^= FeatureHostTSO4
	}
	// Without mergeable buffers every receive buffer would have to hold a
	// 64 KiB coalesced frame (§5.1.6.3.1); not worth it.
	if want&FeatureGuestCsum == 0 || want&FeatureMrgRxBuf == 0 {
		want &^= FeatureGuestTSO4
	}
	if want&FeatureCtrlVQ == 0 {
		want &^= FeatureMQ | FeatureRSS | FeatureHashReport
	}
	return want
}

// readConfig reads struct virtio_net_config (§5.1.4) and sizes frames.
func (d *Device) readConfig(o Options) error {
	t := d.t
	if d.features&FeatureMAC != 0 {
		for {
			g := t.ConfigGeneration()
			for i := range d.mac {
				d.mac[i] = t.ReadConfig8(CfgMAC + uint32(i))
			}
			if t.ConfigGeneration() == g {
				break
			}
		}
	} else {
		// §5.1.5: without VIRTIO_NET_F_MAC the driver picks a random
		// locally administered unicast address.
		rand.Read(d.mac[:])
		d.mac[0] = d.mac[0]&^1 | 2
	}
	d.linkUp.Store(true)
	if d.features&FeatureStatus != 0 {
		d.linkUp.Store(t.ReadConfig16(CfgStatus)&StatusLinkUp != 0)
	}
	d.mtu = 1500
	if o.MTU > 0 {
		d.mtu = o.MTU
	}
	if d.features&FeatureMTU != 0 {
		if m := int(t.ReadConfig16(CfgMTU)); m >= 68 && m < d.mtu {
			d.mtu = m
		}
	}
	if d.mtu < 68 || d.mtu > 9000 {
		return fmt.Errorf("vnet: %s: MTU %d out of range", d.name, d.mtu)
	}
	d.hdrLen = HeaderLen
	if d.features&FeatureHashReport != 0 {
		d.hdrLen = HeaderHashLen
	}
	d.maxTx = ether.HeaderLen + vlanTagLen + d.mtu
	d.maxFrame = d.maxTx
	if d.features&FeatureGuestTSO4 != 0 {
		d.maxFrame = ether.HeaderLen + vlanTagLen + maxIPPacket
	}
	d.frames.size = d.maxFrame
	d.maxPairs = 1
	if d.features&(FeatureMQ|FeatureRSS) != 0 {
		m := int(t.ReadConfig16(CfgMaxPairs))
		if m < MQPairsMin || m > maxPairsSpecLimit {
			return fmt.Errorf("vnet: %s: max_virtqueue_pairs %d out of range", d.name, m)
		}
		d.maxPairs = m
	}
	return nil
}

func queueSize(t virtio.Transport, i, want int) int {
	size := t.MaxQueueSize(i)
	if want <= 0 {
		want = defaultQueueSize
	}
	size = min(size, want)
	for size&(size-1) != 0 {
		size &= size - 1
	}
	return size
}

func (d *Device) setupQueues(o Options) error {
	n := min(o.Queues, d.maxPairs)
	if d.features&FeatureMQ == 0 {
		n = 1 // RSS alone steers within the one pair; MQ adds pairs
	}
	bufSize := d.hdrLen + d.maxFrame // one buffer per frame
	if d.features&FeatureMrgRxBuf != 0 {
		bufSize = o.RxBufSize
		if bufSize <= 0 {
			bufSize = (d.hdrLen + d.maxTx + 63) &^ 63
		}
		bufSize = max(bufSize, d.hdrLen)
	}
	mk := func(i, want int) (*virtio.Queue, *irqCtl, error) {
		size := queueSize(d.t, i, want)
		if size < 2 {
			return nil, nil, fmt.Errorf("vnet: %s: queue %d unusable (size %d)", d.name, i, size)
		}
		q, c, err := newQueue(d.dma, i, size, d.features, d.t.Notify)
		if err != nil {
			return nil, nil, fmt.Errorf("vnet: %s: %w", d.name, err)
		}
		if err := d.t.SetQueue(q); err != nil {
			return nil, nil, fmt.Errorf("vnet: %s: %w", d.name, err)
		}
		return q, c, nil
	}
	for i := 0; i < n; i++ {
		p := &pair{d: d, index: i}
		q, c, err := mk(rxIndex(i), o.QueueSize)
		if err != nil {
			return err
		}
		p.rx = newRxq(d, q, c, bufSize)
		q, c, err = mk(txIndex(i), o.QueueSize)
		if err != nil {
			return err
		}
		p.tx = &txq{q: q, ctl: c}
		c.disable() // transmit completions are reclaimed by senders
		d.pairs = append(d.pairs, p)
	}
	if d.features&FeatureCtrlVQ != 0 {
		q, c, err := mk(ctrlIndex(d.maxPairs), ctrlQueueSize)
		if err != nil {
			return err
		}
		c.disable() // commands are polled
		d.ctrl = &ctrlq{q: q, ctl: c}
	}
	return nil
}

// Name returns the device's name.
func (d *Device) Name() string { return d.name }

// Features returns the negotiated feature bits.
func (d *Device) Features() uint64 { return d.features }

// NumQueues returns the number of queue pairs in use.
func (d *Device) NumQueues() int { return len(d.pairs) }

// Steering reports whether the device steers received frames by the
// programmed RSS table (queue (hash & 127) mod NumQueues).
func (d *Device) Steering() bool { return d.steering }

// HashReport reports whether received frames carry the device's hash.
func (d *Device) HashReport() bool { return d.hashRep }

// HeaderLen is the virtio_net_hdr length in use (12, or 20 with HASH_REPORT).
func (d *Device) HeaderLen() int { return d.hdrLen }

// LinkUp reports the link status (always up without VIRTIO_NET_F_STATUS).
func (d *Device) LinkUp() bool { return d.linkUp.Load() }

// MTU implements link.Endpoint.
func (d *Device) MTU() int { return d.mtu }

// MAC implements link.Endpoint.
func (d *Device) MAC() ether.MAC { return d.mac }

// RSSKey implements link.RSSKeyed: the Toeplitz key the device hashes
// received frames with, or nil if it does not.
func (d *Device) RSSKey() []byte { return d.rssKey }

// SetReceiver implements link.Endpoint. Frames of queue pairs without
// their own receiver (Queue(i).SetReceiver) go here.
func (d *Device) SetReceiver(r link.Receiver) { d.recv.Store(&r) }

// QueueReceiver takes a received frame with the queue pair it came in on.
type QueueReceiver = link.QueueReceiver

// SetQueueReceiver installs r on every queue pair: a stack that knows
// which CPU polls which pair can tell a frame that arrived on its owner's
// queue from one that must hop (and count it).
func (d *Device) SetQueueReceiver(r QueueReceiver) {
	for _, p := range d.pairs {
		q := p.index
		var f link.Receiver = func(frame []byte, rss link.RSS) { r(q, frame, rss) }
		p.recv.Store(&f)
	}
}

// Send implements link.Endpoint: the frame goes out on the queue pair its
// flow hashes to (the pair whose receive queue RSS uses for the reply), so
// one connection's frames stay in order on one ring and a CPU sending for
// the connections it owns uses its own ring.
func (d *Device) Send(frame []byte) error { return d.txPair(frame).send(frame) }

// txPair is the queue pair a frame's flow hashes to.
func (d *Device) txPair(frame []byte) *pair {
	p := d.pairs[0]
	if len(d.pairs) > 1 {
		if s, dst, sp, dp, ok := frameFlow(frame); ok {
			p = d.pairs[queueOfHash(d.txHash.hash4(s, dst, sp, dp), rssTableLen, len(d.pairs))]
		}
	}
	return p
}

// Close stops the pollers and resets the device; Send fails afterwards.
func (d *Device) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	close(d.stop)
	d.wg.Wait()
	d.t.SetStatus(0)
	return nil
}

// Interrupt is the device's interrupt handler: acknowledge, follow a
// configuration change, and schedule the receive polls of queues with
// work. Transmit queues are reclaimed by senders (and here, when
// scatter-gather buffers are waiting for their completion callbacks).
func (d *Device) Interrupt() {
	d.interrupts.Add(1)
	isr := d.t.AckInterrupt()
	if isr&2 != 0 {
		d.configChanged()
	}
	if d.closed.Load() {
		return
	}
	for _, p := range d.pairs {
		p.interrupt()
	}
}

// QueueInterrupt is the handler for a vector that serves queue pair q
// alone (MSI-X, when the core programs it): no interrupt status to read.
func (d *Device) QueueInterrupt(q int) {
	if q < 0 || q >= len(d.pairs) || d.closed.Load() {
		return
	}
	d.interrupts.Add(1)
	d.pairs[q].interrupt()
}

func (p *pair) interrupt() {
	p.rxInterrupt()
	// A sender holding the lock reclaims anyway.
	if p.tx.sgOut.Load() > 0 && p.tx.ctl.pending() && p.tx.mu.TryLock() {
		dones := p.tx.reclaim(&p.st)
		p.tx.mu.Unlock()
		runDones(dones)
	}
}

func (d *Device) configChanged() {
	d.configChanges.Add(1)
	if d.features&FeatureStatus == 0 {
		return
	}
	up := d.t.ReadConfig16(CfgStatus)&StatusLinkUp != 0
	if d.linkUp.Swap(up) != up && d.onLink != nil {
		d.onLink(up)
	}
}

// Stats snapshots the device's counters.
func (d *Device) Stats() Stats {
	s := Stats{
		Interrupts: d.interrupts.Load(), ConfigChanges: d.configChanges.Load(),
		CtrlCommands: d.ctrlCommands.Load(), CtrlErrors: d.ctrlErrors.Load(),
	}
	for _, p := range d.pairs {
		qs := p.st.snapshot(p.index)
		qs.RxQueue = queueCounters(p.rx.q)
		qs.TxQueue = queueCounters(p.tx.q)
		s.Queues = append(s.Queues, qs)
	}
	return s
}

func queueCounters(q *virtio.Queue) QueueCounters {
	s := q.Stats()
	return QueueCounters{
		Notifies: s.Notifies.Load(), NotifyAvoid: s.NotifyAvoid.Load(), Indirect: s.Indirect.Load(),
		BadUsed: s.BadUsed.Load(), LenClamped: s.LenClamped.Load(), Completions: s.Completions.Load(),
	}
}

// Queue returns queue pair i as its own endpoint.
func (d *Device) Queue(i int) *Queue { return &Queue{p: d.pairs[i]} }

// Queue is one queue pair as a link.Endpoint, for a kernel that wires each
// CPU's protocol thread to its own pair: Send uses this pair's transmit
// ring, and the receiver set here gets this pair's received frames (else
// they go to the device's receiver).
type Queue struct{ p *pair }

func (q *Queue) Index() int                  { return q.p.index }
func (q *Queue) MTU() int                    { return q.p.d.mtu }
func (q *Queue) MAC() ether.MAC              { return q.p.d.mac }
func (q *Queue) Send(frame []byte) error     { return q.p.send(frame) }
func (q *Queue) SetReceiver(r link.Receiver) { q.p.recv.Store(&r) }
func (q *Queue) RSSKey() []byte              { return q.p.d.rssKey }

// Close detaches the queue's receiver (frames go to the device's again).
// The device stays up: Device.Close stops it.
func (q *Queue) Close() error {
	q.p.recv.Store(nil)
	return nil
}

// SendSG transmits a frame made of bufs without copying them. done, if
// not nil, runs once the device has finished with the buffers (from a later
// send or the interrupt handler); the caller must not change them before.
func (q *Queue) SendSG(bufs [][]byte, o Offload, done func()) error {
	return q.p.sendSG(bufs, o, done)
}

// Stats snapshots this pair's counters.
func (q *Queue) Stats() QueueStats {
	qs := q.p.st.snapshot(q.p.index)
	qs.RxQueue = queueCounters(q.p.rx.q)
	qs.TxQueue = queueCounters(q.p.tx.q)
	return qs
}
