// Package vnetsim is a simulated virtio-net device (virtio 1.2 §5.1) on
// the core's simulator (virtio/virtiosim), for host tests of the driver:
// receive with or without mergeable buffers, event index and indirect
// descriptors as the driver negotiates them; transmit with checksum and
// TSO offload done as a device does; the control queue (MQ pair count,
// RSS configuration, hash configuration) and RSS steering that computes the
// Toeplitz hash and indexes the programmed indirection table; link status
// changes; and hooks that make the device lie (bad used lengths, headers,
// num_buffers) to test the driver's defences.
//
// Like virtiosim it is test equipment: what it finds wrong with the
// driver's use of it goes to Device.Errors.
package vnetsim

import (
	"encoding/binary"
	"fmt"
	"sync"

	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
)

// The constants of §5.1 the device uses, spelled independently of the
// driver's package so a wrong value on one side shows up in tests.
const (
	fCsum       = 1 << 0
	fGuestCsum  = 1 << 1
	fMTU        = 1 << 3
	fMAC        = 1 << 5
	fGuestTSO4  = 1 << 7
	fHostTSO4   = 1 << 11
	fMrgRxBuf   = 1 << 15
	fStatus     = 1 << 16
	fCtrlVQ     = 1 << 17
	fMQ         = 1 << 22
	fHashReport = 1 << 57
	fRSS        = 1 << 60

	hashTypeIPv4  = 1 << 0
	hashTypeTCPv4 = 1 << 1
	hashTypeUDPv4 = 1 << 2

	hashReportNone  = 0
	hashReportIPv4  = 1
	hashReportTCPv4 = 2

	hdrNeedsCsum = 1
	hdrDataValid = 2
	gsoTCPv4     = 1

	ctrlMQ         = 4
	ctrlPairsSet   = 0
	ctrlRSSConfig  = 1
	ctrlHashConfig = 2
)

// Options shape a simulated device.
type Options struct {
	MAC      [6]byte
	Pairs    int    // max_virtqueue_pairs; > 1 offers MQ
	QueueMax uint16 // per-queue maximum size (default 256)
	MTU      uint16 // non-zero offers VIRTIO_NET_F_MTU
	RSS      bool   // offer VIRTIO_NET_F_RSS
	Hash     bool   // offer VIRTIO_NET_F_HASH_REPORT
	// RSSMaxTable is rss_max_indirection_table_length (default 128).
	RSSMaxTable uint16
	NoMrg       bool
	NoEventIdx  bool
	NoIndirect  bool
	NoOffload   bool // offer none of CSUM, GUEST_CSUM, HOST_TSO4, GUEST_TSO4
	NoCtrl      bool
	LinkDown    bool
	// Mangle, if set, sees every received frame's buffers before they are
	// returned: hdr is the virtio_net_hdr written to the first buffer and
	// lens the used lengths, both changeable (a lying device).
	Mangle func(hdr []byte, lens []uint32)
}

// RxOpts describe how one frame is delivered to the driver.
type RxOpts struct {
	Queue     int  // receive queue pair; -1: steer by RSS (queue 0 without)
	Partial   bool // deliver with NEEDS_CSUM: the TCP/UDP checksum field holds the pseudo-header sum
	DataValid bool
	GSOSize   uint16 // non-zero: a coalesced TCPv4 frame (GUEST_TSO4)
}

type rxFrame struct {
	b []byte
	o RxOpts
	h uint32
	r uint16
}

type chain struct {
	head uint16
	bufs []virtiosim.Buf
	cap  int
}

type rxState struct {
	stash   []chain   // popped, not yet used
	backlog []rxFrame // waiting for buffers
}

// Net is a simulated virtio-net device.
type Net struct {
	*virtiosim.Device
	o        Options
	maxPairs int

	mu        sync.Mutex // everything below
	rx        []*rxState
	pairs     int
	rssTable  []uint16
	rssKey    []byte
	hashTypes uint32
	steer     bool
	report    bool
	sink      func(pair int, frame []byte)
	sent      [][]byte
	// Delivered counts frames written to each receive queue; TxFrames the
	// frames taken from each transmit queue (after segmentation).
	Delivered []int
	TxFrames  []int
	Dropped   int // frames the device could not deliver (buffers too small)
	Commands  []string
}

// New returns a device on mem.
func New(mem *virtiosim.Memory, o Options) *Net {
	if o.Pairs < 1 {
		o.Pairs = 1
	}
	if o.QueueMax == 0 {
		o.QueueMax = 256
	}
	if o.RSSMaxTable == 0 {
		o.RSSMaxTable = 128
	}
	f := uint64(virtio.FeatureVersion1 | fMAC | fStatus)
	if !o.NoEventIdx {
		f |= virtio.FeatureEventIdx
	}
	if !o.NoIndirect {
		f |= virtio.FeatureIndirectDesc
	}
	if !o.NoMrg {
		f |= fMrgRxBuf
	}
	if !o.NoOffload {
		f |= fCsum | fGuestCsum | fHostTSO4 | fGuestTSO4
	}
	if !o.NoCtrl {
		f |= fCtrlVQ
		if o.Pairs > 1 {
			f |= fMQ
		}
		if o.RSS {
			f |= fRSS
		}
		if o.Hash {
			f |= fHashReport
		}
	}
	if o.MTU != 0 {
		f |= fMTU
	}
	cfg := make([]byte, 24)
	copy(cfg[0:6], o.MAC[:])
	if !o.LinkDown {
		binary.LittleEndian.PutUint16(cfg[6:], 1)
	}
	binary.LittleEndian.PutUint16(cfg[8:], uint16(o.Pairs))
	binary.LittleEndian.PutUint16(cfg[10:], o.MTU)
	cfg[17] = 40
	binary.LittleEndian.PutUint16(cfg[18:], o.RSSMaxTable)
	binary.LittleEndian.PutUint32(cfg[20:], hashTypeIPv4|hashTypeTCPv4|hashTypeUDPv4)
	n := &Net{o: o, maxPairs: o.Pairs, pairs: 1,
		Delivered: make([]int, o.Pairs), TxFrames: make([]int, o.Pairs)}
	for range o.Pairs {
		n.rx = append(n.rx, &rxState{})
	}
	n.Device = virtiosim.NewDevice(virtio.DeviceNet, f, cfg, 2*o.Pairs+1, o.QueueMax, mem, n.handle)
	return n
}

// SetSink installs the function given every transmitted frame (after
// offloads); by default frames are kept for Sent.
func (n *Net) SetSink(f func(pair int, frame []byte)) {
	n.mu.Lock()
	n.sink = f
	n.mu.Unlock()
}

// Sent returns and forgets the frames transmitted so far (no sink set).
func (n *Net) Sent() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.sent
	n.sent = nil
	return s
}

// Counts returns copies of the per-queue counters.
func (n *Net) Counts() (delivered, tx []int, dropped int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]int(nil), n.Delivered...), append([]int(nil), n.TxFrames...), n.Dropped
}

// Pairs returns the queue pairs the driver asked for.
func (n *Net) Pairs() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pairs
}

// RSS returns the programmed steering: table, key, hash types, and whether
// steering and hash reporting are on.
func (n *Net) RSS() (table []uint16, key []byte, types uint32, steer, report bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]uint16(nil), n.rssTable...), append([]byte(nil), n.rssKey...), n.hashTypes, n.steer, n.report
}

// SetLink changes the link status and raises a configuration interrupt.
// The driver reads the status only in its interrupt handler, after the
// interrupt status bit this sets (under the device lock) is seen.
func (n *Net) SetLink(up bool) {
	v := uint16(0)
	if up {
		v = 1
	}
	binary.LittleEndian.PutUint16(n.Config[6:], v)
	n.RaiseInterrupt(2)
}

func (n *Net) hdrLen() int {
	if n.Negotiated()&fHashReport != 0 {
		return 20
	}
	return 12
}

// Receive hands frame to the driver as the wire would (steered by RSS
// when configured) and returns the queue it went to.
func (n *Net) Receive(frame []byte) int { return n.Inject(frame, RxOpts{Queue: -1}) }

// Inject delivers a copy of frame with the given options and returns the
// receive queue it was put on. Frames wait in the device while the driver
// has posted too few buffers.
func (n *Net) Inject(frame []byte, o RxOpts) int {
	f := rxFrame{b: append([]byte(nil), frame...), o: o}
	n.mu.Lock()
	q := o.Queue
	if n.hashTypes != 0 && len(n.rssKey) > 0 {
		f.h, f.r = hashFrame(n.rssKey, n.hashTypes, f.b)
	}
	if q < 0 {
		q = 0
		if n.steer && len(n.rssTable) > 0 && f.r != hashReportNone {
			q = int(n.rssTable[int(f.h)&(len(n.rssTable)-1)])
		}
	}
	if q >= len(n.rx) {
		q = 0
	}
	n.rx[q].backlog = append(n.rx[q].backlog, f)
	irq := n.deliver(q)
	n.mu.Unlock()
	if irq {
		n.RaiseInterrupt(1)
	}
	return q
}

func (n *Net) handle(d *virtiosim.Device, q int, vq *virtiosim.Queue) bool {
	switch {
	case q == 2*n.maxPairs:
		return n.control(vq)
	case q%2 == 0:
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.deliver(q / 2)
	default:
		return n.transmit(q/2, vq)
	}
}

// deliver writes backlogged frames of pair p into posted buffers; n.mu held.
func (n *Net) deliver(p int) (irq bool) {
	vq := n.VQ(2 * p)
	if vq == nil {
		return false
	}
	st := n.rx[p]
	hl := n.hdrLen()
	mrg := n.Negotiated()&fMrgRxBuf != 0
	for len(st.backlog) > 0 {
		f := st.backlog[0]
		need := hl + len(f.b)
		// Gather buffers: with MRG as many as the frame needs, else one.
		k, have := 0, 0
		for {
			for k < len(st.stash) && (k == 0 || (mrg && have < need)) {
				have += st.stash[k].cap
				k++
			}
			if k > 0 && (!mrg || have >= need) {
				break
			}
			head, ok, err := vq.Pop()
			if err != nil {
				n.Report(err)
				return irq
			}
			if !ok {
				return irq // wait for the driver to post more
			}
			bufs, err := vq.Chain(head)
			if err != nil {
				n.Report(err)
				return irq
			}
			c := chain{head: head, bufs: bufs}
			for _, b := range bufs {
				if !b.Write {
					n.Report(fmt.Errorf("vnetsim: receive buffer is device-readable"))
				}
				c.cap += len(b.B)
			}
			st.stash = append(st.stash, c)
		}
		if !mrg {
			if st.stash[0].cap < need {
				// §5.1.6.3.1 broken by the driver: buffer too small.
				n.Report(fmt.Errorf("vnetsim: receive buffer of %d bytes for a %d-byte frame", st.stash[0].cap, need))
				n.Dropped++
				st.backlog = st.backlog[1:]
				continue
			}
		}
		use := st.stash[:k]
		hdr := make([]byte, hl)
		n.fillHeader(hdr, f, k)
		if f.o.Partial {
			makePartial(f.b)
		}
		stream := append(hdr, f.b...)
		lens := make([]uint32, k)
		for i, c := range use {
			for _, b := range c.bufs {
				m := copy(b.B, stream)
				stream = stream[m:]
				lens[i] += uint32(m)
			}
		}
		if n.o.Mangle != nil {
			h := make([]byte, hl)
			copy(h, use[0].bufs[0].B)
			n.o.Mangle(h, lens)
			copy(use[0].bufs[0].B, h)
		}
		for i, c := range use {
			want, err := vq.Push(c.head, lens[i])
			if err != nil {
				n.Report(err)
			}
			irq = irq || want
		}
		st.stash = st.stash[k:]
		st.backlog = st.backlog[1:]
		n.Delivered[p]++
	}
	return irq
}

func (n *Net) fillHeader(h []byte, f rxFrame, nbuf int) {
	clear(h)
	if f.o.Partial {
		h[0] |= hdrNeedsCsum
		if s, o, ok := l4Csum(f.b); ok {
			binary.LittleEndian.PutUint16(h[6:], uint16(s))
			binary.LittleEndian.PutUint16(h[8:], uint16(o))
		}
	}
	if f.o.DataValid {
		h[0] |= hdrDataValid
	}
	if f.o.GSOSize != 0 {
		h[1] = gsoTCPv4
		binary.LittleEndian.PutUint16(h[4:], f.o.GSOSize)
	}
	binary.LittleEndian.PutUint16(h[10:], uint16(nbuf))
	if len(h) >= 20 && n.report && f.r != hashReportNone {
		binary.LittleEndian.PutUint32(h[12:], f.h)
		binary.LittleEndian.PutUint16(h[16:], f.r)
	}
}

// l4Csum locates the TCP or UDP checksum of an IPv4 frame.
func l4Csum(f []byte) (start, off int, ok bool) {
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return
	}
	ihl := int(f[14]&0xf) * 4
	start = 14 + ihl
	switch f[23] {
	case 6:
		off = 16
	case 17:
		off = 6
	default:
		return
	}
	return start, off, start+off+2 <= len(f)
}

// makePartial replaces a TCP/UDP checksum with the pseudo-header sum, as a
// host stack handing a frame to the device with checksum offload does.
func makePartial(f []byte) {
	s, o, ok := l4Csum(f)
	if !ok {
		return
	}
	ip := f[14:]
	sum := uint32(0)
	for i := 12; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	sum += uint32(ip[9]) + uint32(len(f)-s)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(f[s+o:], uint16(sum))
}

// transmit consumes the transmit queue of pair p.
func (n *Net) transmit(p int, vq *virtiosim.Queue) (irq bool) {
	hl := n.hdrLen()
	for {
		head, ok, err := vq.Pop()
		if err != nil {
			n.Report(err)
			return irq
		}
		if !ok {
			return irq
		}
		bufs, err := vq.Chain(head)
		if err != nil {
			n.Report(err)
			return irq
		}
		var pkt []byte
		for _, b := range bufs {
			if b.Write {
				n.Report(fmt.Errorf("vnetsim: transmit buffer is device-writable"))
				continue
			}
			pkt = append(pkt, b.B...)
		}
		frames, err := n.offload(pkt, hl)
		if err != nil {
			n.Report(err)
		}
		want, err := vq.Push(head, 0)
		if err != nil {
			n.Report(err)
		}
		irq = irq || want
		n.mu.Lock()
		sink := n.sink
		n.TxFrames[p] += len(frames)
		if sink == nil {
			n.sent = append(n.sent, frames...)
		}
		n.mu.Unlock()
		if sink != nil {
			for _, f := range frames {
				sink(p, f)
			}
		}
	}
}

// offload strips the header and does what it asks.
func (n *Net) offload(pkt []byte, hl int) ([][]byte, error) {
	if len(pkt) < hl {
		return nil, fmt.Errorf("vnetsim: transmitted chain of %d bytes, shorter than the header", len(pkt))
	}
	h, f := pkt[:hl], pkt[hl:]
	neg := n.Negotiated()
	if binary.LittleEndian.Uint16(h[10:]) != 0 {
		return nil, fmt.Errorf("vnetsim: transmit header with num_buffers set")
	}
	if h[0]&hdrNeedsCsum != 0 {
		if neg&fCsum == 0 {
			return nil, fmt.Errorf("vnetsim: NEEDS_CSUM without VIRTIO_NET_F_CSUM")
		}
		if err := completeCsum(f, int(binary.LittleEndian.Uint16(h[6:])), int(binary.LittleEndian.Uint16(h[8:]))); err != nil {
			return nil, err
		}
	}
	switch h[1] {
	case 0:
		return [][]byte{f}, nil
	case gsoTCPv4:
		if neg&fHostTSO4 == 0 {
			return nil, fmt.Errorf("vnetsim: GSO_TCPV4 without VIRTIO_NET_F_HOST_TSO4")
		}
		return segmentTCPv4(f, int(binary.LittleEndian.Uint16(h[4:])))
	}
	return nil, fmt.Errorf("vnetsim: gso_type %d", h[1])
}

// control runs commands from the control queue (§5.1.6.5).
func (n *Net) control(vq *virtiosim.Queue) (irq bool) {
	for {
		head, ok, err := vq.Pop()
		if err != nil {
			n.Report(err)
			return irq
		}
		if !ok {
			return irq
		}
		bufs, err := vq.Chain(head)
		if err != nil {
			n.Report(err)
			return irq
		}
		var cmd []byte
		var ack []byte
		for _, b := range bufs {
			if b.Write {
				ack = b.B
			} else {
				cmd = append(cmd, b.B...)
			}
		}
		status := byte(1)
		if len(ack) != 1 || len(cmd) < 2 {
			n.Report(fmt.Errorf("vnetsim: malformed control command (%d bytes, ack %d)", len(cmd), len(ack)))
		} else if err := n.command(cmd[0], cmd[1], cmd[2:]); err != nil {
			n.Report(err)
		} else {
			status = 0
		}
		if len(ack) > 0 {
			ack[0] = status
		}
		want, err := vq.Push(head, uint32(len(ack)))
		if err != nil {
			n.Report(err)
		}
		irq = irq || want
	}
}

func (n *Net) command(class, cmd byte, data []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Commands = append(n.Commands, fmt.Sprintf("%d/%d", class, cmd))
	neg := n.Negotiated()
	if class != ctrlMQ {
		return fmt.Errorf("vnetsim: control class %d not supported", class)
	}
	switch cmd {
	case ctrlPairsSet:
		if neg&fMQ == 0 || len(data) != 2 {
			return fmt.Errorf("vnetsim: VQ_PAIRS_SET without MQ or of %d bytes", len(data))
		}
		v := int(binary.LittleEndian.Uint16(data))
		if v < 1 || v > n.maxPairs {
			return fmt.Errorf("vnetsim: VQ_PAIRS_SET %d (max %d)", v, n.maxPairs)
		}
		n.pairs, n.steer = v, false
		return nil
	case ctrlRSSConfig:
		if neg&fRSS == 0 {
			return fmt.Errorf("vnetsim: RSS_CONFIG without RSS")
		}
		return n.rssConfig(data, neg)
	case ctrlHashConfig:
		if neg&fHashReport == 0 || len(data) < 13 {
			return fmt.Errorf("vnetsim: HASH_CONFIG without HASH_REPORT or short")
		}
		kl := int(data[12])
		if kl > 40 || len(data) != 13+kl {
			return fmt.Errorf("vnetsim: HASH_CONFIG key of %d bytes in %d", kl, len(data))
		}
		n.hashTypes = binary.LittleEndian.Uint32(data) & (hashTypeIPv4 | hashTypeTCPv4 | hashTypeUDPv4)
		n.rssKey = append([]byte(nil), data[13:]...)
		n.report = true
		return nil
	}
	return fmt.Errorf("vnetsim: MQ command %d not supported", cmd)
}

// rssConfig parses struct virtio_net_rss_config and checks it the way
// §5.1.6.5.7 lets a device: power-of-two table within the maximum,
// queue numbers within max_tx_vq, key within rss_max_key_size.
func (n *Net) rssConfig(b []byte, neg uint64) error {
	if len(b) < 8 {
		return fmt.Errorf("vnetsim: RSS_CONFIG of %d bytes", len(b))
	}
	types := binary.LittleEndian.Uint32(b)
	mask := int(binary.LittleEndian.Uint16(b[4:]))
	uncl := int(binary.LittleEndian.Uint16(b[6:]))
	tl := mask + 1
	if tl&(tl-1) != 0 || tl > int(n.o.RSSMaxTable) {
		return fmt.Errorf("vnetsim: indirection table of %d entries", tl)
	}
	if len(b) < 8+2*tl+3 {
		return fmt.Errorf("vnetsim: RSS_CONFIG truncated")
	}
	table := make([]uint16, tl)
	for i := range table {
		table[i] = binary.LittleEndian.Uint16(b[8+2*i:])
	}
	off := 8 + 2*tl
	maxTx := int(binary.LittleEndian.Uint16(b[off:]))
	kl := int(b[off+2])
	if kl > 40 || len(b) != off+3+kl {
		return fmt.Errorf("vnetsim: RSS key of %d bytes in a %d-byte command", kl, len(b))
	}
	if maxTx < 1 || maxTx > n.maxPairs || uncl >= maxTx {
		return fmt.Errorf("vnetsim: RSS max_tx_vq %d, unclassified %d (max pairs %d)", maxTx, uncl, n.maxPairs)
	}
	for _, q := range table {
		if int(q) >= maxTx {
			return fmt.Errorf("vnetsim: RSS table names queue %d of %d", q, maxTx)
		}
	}
	n.hashTypes = types & (hashTypeIPv4 | hashTypeTCPv4 | hashTypeUDPv4)
	n.rssTable = table
	n.rssKey = append([]byte(nil), b[off+3:]...)
	n.pairs = maxTx
	n.steer = true
	n.report = neg&fHashReport != 0
	return nil
}

// Corrupt runs f on the device side of receive queue pair p, under the
// device's lock, then raises an interrupt: tests use it to write used
// entries no honest device would (virtiosim.Queue.PushRaw).
func (n *Net) Corrupt(p int, f func(vq *virtiosim.Queue)) {
	n.mu.Lock()
	if vq := n.VQ(2 * p); vq != nil {
		f(vq)
	}
	n.mu.Unlock()
	n.RaiseInterrupt(1)
}
