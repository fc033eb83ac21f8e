package vnet

// The device as a link.Offloader: the stack hands whole frames with
// partial TCP checksums and TSO requests (net/link's TxOffload has the
// virtio-net header's semantics, §5.1.6.2), which go out through the copy
// path with the header filled in. The stack reuses its frame buffer as
// soon as the call returns, so SendSG's zero-copy path (which holds the
// caller's buffers until the device is done) does not fit it; a GSO frame
// costs one copy of up to 64 KiB, against the per-byte checksum and the
// per-segment work it saves.

import (
	"fmt"

	"damselfly/net/link"
)

// OffloadCaps implements link.Offloader: checksum offload with CSUM, TSO
// with HOST_TSO4 (negotiated only together with CSUM).
func (d *Device) OffloadCaps() link.Offloads {
	csum, tso := d.Offloads()
	return link.Offloads{Csum: csum, TSO4: csum && tso, MaxGSO: maxIPPacket}
}

// SendOffload implements link.Offloader: Send with the header asking the
// device to finish the frame. The frame goes to the pair its flow hashes
// to, as with Send.
func (d *Device) SendOffload(frame []byte, o link.TxOffload) error {
	vo, err := d.txOffload(o, &d.pairs[0].st)
	if err != nil {
		return err
	}
	return d.txPair(frame).sendCopy(frame, vo, false)
}

// SendOffloadDeferred is SendOffload without the doorbell: the device is
// notified once kickBatch frames wait, or by FlushTx. A sender that emits
// frames in bursts (a protocol thread's turn) calls FlushTx at the end of
// the burst, so one notification (a VM exit) covers several frames, as
// Linux's xmit_more does.
func (d *Device) SendOffloadDeferred(frame []byte, o link.TxOffload) error {
	vo, err := d.txOffload(o, &d.pairs[0].st)
	if err != nil {
		return err
	}
	return d.txPair(frame).sendCopy(frame, vo, true)
}

// FlushTx notifies the device of every frame SendOffloadDeferred left
// waiting, on every queue pair.
func (d *Device) FlushTx() {
	for _, p := range d.pairs {
		p.flush()
	}
}

// OffloadCaps and SendOffload make a queue pair a link.Offloader too.
func (q *Queue) OffloadCaps() link.Offloads { return q.p.d.OffloadCaps() }

func (q *Queue) SendOffload(frame []byte, o link.TxOffload) error {
	vo, err := q.p.d.txOffload(o, &q.p.st)
	if err != nil {
		return err
	}
	return q.p.sendCopy(frame, vo, false)
}

// SendOffloadDeferred and FlushTx are the Device's, on this pair only.
func (q *Queue) SendOffloadDeferred(frame []byte, o link.TxOffload) error {
	vo, err := q.p.d.txOffload(o, &q.p.st)
	if err != nil {
		return err
	}
	return q.p.sendCopy(frame, vo, true)
}

func (q *Queue) FlushTx() { q.p.flush() }

// txOffload is offloadOf for a send: a request it refuses is counted as a
// drop in st and the error names the device.
func (d *Device) txOffload(o link.TxOffload, st *queueStats) (Offload, error) {
	vo, err := offloadOf(o)
	if err != nil {
		st.drop(DropTxBadOffload)
		return vo, fmt.Errorf("vnet: %s: %w", d.name, err)
	}
	return vo, nil
}

// offloadOf translates a link request into the header's fields.
func offloadOf(o link.TxOffload) (Offload, error) {
	vo := Offload{Csum: o.Csum, CsumStart: o.CsumStart, CsumOffset: o.CsumOffset}
	switch o.GSOType {
	case link.GSONone:
	case link.GSOTCPv4:
		if o.GSOSize == 0 {
			return vo, fmt.Errorf("TSO with a zero segment size")
		}
		vo.GSOSize, vo.HdrLen = o.GSOSize, o.HdrLen
	default:
		return vo, fmt.Errorf("gso type %d not supported", o.GSOType)
	}
	return vo, nil
}
