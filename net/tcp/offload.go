package tcp

// Transmit offload (checksum and TSO) and receive checksum validation by
// the device. The stack layer sets Config.Offload from the link's
// capabilities (net/link.Offloader); with it:
//
//   - Checksum: segments leave with the pseudo-header sum in the checksum
//     field (virtio NEEDS_CSUM, Linux CHECKSUM_PARTIAL) and the device sums
//     the header and payload: no pass over the data on this CPU;
//   - TSO: sendData builds segments of up to TSOMax bytes, always a whole
//     number of MSS-sized pieces, and hands each as one GSO frame whose
//     gso_size is the MSS. The device cuts it into exactly the segments
//     the per-MSS loop would have sent (same sequence numbers and sizes),
//     so Nagle, sender SWS avoidance, cwnd and the peer's window decide as
//     before; retransmissions (fast retransmit, SACK holes, loss probes)
//     stay one MSS each, and a rewind after an RTO may go out in GSO
//     batches, which are MSS segments on the wire.
//
// DeliverValidated is Deliver for segments whose checksum the device
// already verified.

import (
	"net/netip"

	"damselfly/net/checksum"
)

// Offload describes what the link finishes for the Stack's segments.
type Offload struct {
	// Checksum: leave TCP checksums partial (the field holds the
	// pseudo-header sum, not complemented); OutputOffload finishes them.
	Checksum bool
	// TSOMax > 0 allows segments of up to TSOMax bytes of TCP header and
	// payload, handed to OutputOffload with gsoSize = the MSS they are cut
	// into. Needs Checksum. 65515 (a 64 KiB IPv4 datagram) is the most
	// that makes sense.
	TSOMax int
}

func (o Offload) tso() bool { return o.Checksum && o.TSOMax > 0 }

// tsoLimit is the payload of the largest GSO segment with optLen bytes of
// options: a whole number of seg-byte pieces, at least one.
func (s *Stack) tsoLimit(seg, optLen int) int {
	if !s.cfg.Offload.tso() || seg <= 0 {
		return seg
	}
	room := s.cfg.Offload.TSOMax - HeaderMinLen - optLen
	return max(seg, room-room%seg)
}

// transmitOffload sends seg with a partial checksum; gso > 0 asks the link
// to cut the payload into gso-byte segments.
func (s *Stack) transmitOffload(src, dst netip.Addr, seg []byte, gso int) {
	h := Header(seg)
	h.SetChecksum(^checksum.Fold(checksum.PseudoHeader(src, dst, ProtocolNumber, len(seg))))
	payload := len(seg) - h.DataOffset()
	s.ctr.csumOffloaded++
	if gso > 0 && payload > gso {
		n := uint64((payload + gso - 1) / gso)
		s.ctr.gsoFrames++
		s.ctr.gsoSegs += n
		s.ctr.segsOut += n
	} else {
		gso = 0
		s.ctr.segsOut++
	}
	s.ctr.bytesOut += uint64(payload)
	if s.cfg.OutputOffloadFrame != nil && len(seg) > 0 && &seg[0] == &s.seg[0] {
		off := s.cfg.Headroom
		s.cfg.OutputOffloadFrame(src, dst, s.obuf[:off+len(seg)], off, gso)
		return
	}
	s.cfg.OutputOffload(src, dst, seg, gso)
}

// DeliverValidated is Deliver for a segment whose checksum the device has
// verified (link.RSS.ChecksumValid): the Stack skips its own pass over
// the bytes and counts the segment.
func (s *Stack) DeliverValidated(src, dst netip.Addr, seg []byte) {
	s.now = s.cfg.Now()
	s.ctr.segsIn++
	s.ctr.csumValidatedIn++
	s.deliverChecked(src, dst, seg, true)
	s.flush()
}
