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
	vo, err := offloadOf(o)
	if err != nil {
		d.pairs[0].st.drop(DropTxBadOffload)
		return fmt.Errorf("vnet: %s: %w", d.name, err)
	}
	return d.txPair(frame).sendCopy(frame, vo)
}

// OffloadCaps and SendOffload make a queue pair a link.Offloader too.
func (q *Queue) OffloadCaps() link.Offloads { return q.p.d.OffloadCaps() }

func (q *Queue) SendOffload(frame []byte, o link.TxOffload) error {
	vo, err := offloadOf(o)
	if err != nil {
		q.p.st.drop(DropTxBadOffload)
		return fmt.Errorf("vnet: %s: %w", q.p.d.name, err)
	}
	return q.p.sendCopy(frame, vo)
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
