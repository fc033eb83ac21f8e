package link

// Transmit offload: a device that finishes checksums and cuts large TCP
// segments for the stack, with the semantics of the virtio-net header
// (virtio 1.2 §5.1.6.2), which are also Linux's CHECKSUM_PARTIAL and
// SKB_GSO_TCPV4:
//
//   - partial checksum: the stack leaves the one's-complement sum of the
//     pseudo-header (not complemented) in the checksum field; the device
//     sums from CsumStart to the end of the frame and stores the
//     complement at CsumStart+CsumOffset;
//   - TCPv4 segmentation: the frame is one IPv4/TCP datagram of up to
//     64 KiB whose payload the device cuts into GSOSize-byte pieces, each
//     sent behind a copy of the headers with IP total length, ID (+1 per
//     segment) and header checksum, TCP sequence number and checksum
//     rewritten, FIN and PSH kept on the last segment only, CWR on the
//     first only. The pseudo-header sum in the checksum field covers the
//     whole datagram's TCP length; the device adjusts it per segment.
//
// FinishOffload does the same work in software: link.Pipe runs it so host
// tests exercise the offload path end to end, and the stack runs it for
// the rare frame it must hand to a path that cannot take offload requests
// (a datagram queued behind an ARP resolution).

import (
	"encoding/binary"
	"errors"
	"fmt"

	"damselfly/net/checksum"
	"damselfly/net/ether"
)

// Offloads is what an Offloader can finish on transmit.
type Offloads struct {
	// Csum: partial TCP/UDP checksums over IPv4 (virtio CSUM).
	Csum bool
	// TSO4: TCPv4 segmentation (virtio HOST_TSO4); implies Csum.
	TSO4 bool
	// MaxGSO is the largest IPv4 datagram (header included) a GSO frame
	// may carry; 0 means 65535.
	MaxGSO int
}

// GSO types, as virtio_net_hdr's gso_type.
const (
	GSONone  = 0
	GSOTCPv4 = 1
)

// TxOffload asks the endpoint to finish one frame.
type TxOffload struct {
	// Csum: compute the checksum over frame[CsumStart:] and store it at
	// CsumStart+CsumOffset, whose field holds the pseudo-header sum.
	Csum                  bool
	CsumStart, CsumOffset uint16
	// GSOType GSOTCPv4 cuts the frame into segments of GSOSize payload
	// bytes; HdrLen is the length of the Ethernet, IPv4 and TCP headers.
	// Needs Csum over the TCP header.
	GSOType         uint8
	GSOSize, HdrLen uint16
}

// Offloader is implemented by endpoints that finish checksums and cut TCP
// segments for the stack.
type Offloader interface {
	// OffloadCaps reports what SendOffload may be asked; the zero value
	// means nothing (then the stack uses Send only).
	OffloadCaps() Offloads
	// SendOffload transmits frame (which it does not keep, as Send) and
	// applies o; it may write into frame (a software finisher stores the
	// checksum in place). An Ethernet frame longer than the MTU is
	// accepted only with GSO.
	SendOffload(frame []byte, o TxOffload) error
}

// Errors of FinishOffload.
var (
	ErrOffloadRequest = errors.New("link: malformed offload request")
)

// MaxGSODatagram returns the largest IPv4 datagram a GSO frame may carry.
func (o Offloads) MaxGSODatagram() int {
	if o.MaxGSO <= 0 || o.MaxGSO > 65535 {
		return 65535
	}
	return o.MaxGSO
}

// FinishOffload applies o to frame in software and calls emit with each
// finished frame (frame itself when no segmentation is asked, else fresh
// buffers that emit may keep). frame is modified (its checksum field is
// written). A request that does not fit the frame is refused with
// ErrOffloadRequest and nothing is emitted: the frames come from our own
// stack, but the function parses them as untrusted (it is fuzzed).
func FinishOffload(frame []byte, o TxOffload, emit func([]byte)) error {
	if o.GSOType == GSONone {
		if o.Csum {
			if err := completeCsum(frame, int(o.CsumStart), int(o.CsumOffset)); err != nil {
				return err
			}
		}
		emit(frame)
		return nil
	}
	if o.GSOType != GSOTCPv4 {
		return fmt.Errorf("%w: gso type %d", ErrOffloadRequest, o.GSOType)
	}
	return segmentTCPv4(frame, o, emit)
}

func completeCsum(f []byte, start, off int) error {
	if start < ether.HeaderLen || start >= len(f) || off < 0 || off > len(f)-start-2 {
		return fmt.Errorf("%w: checksum at %d+%d in a %d-byte frame", ErrOffloadRequest, start, off, len(f))
	}
	c := checksum.Checksum(f[start:])
	if c == 0 && off == 6 {
		c = 0xffff // UDP sends a computed zero as all ones (RFC 768)
	}
	binary.BigEndian.PutUint16(f[start+off:], c)
	return nil
}

// segmentTCPv4 cuts a GSO_TCPV4 frame. Every segment's checksum starts from
// the pseudo-header sum the stack left in the field, adjusted from the
// whole datagram's TCP length to the segment's (as Linux's tcp_gso_segment
// does), so a wrong sum from the stack gives wrong checksums on the wire.
func segmentTCPv4(f []byte, o TxOffload, emit func([]byte)) error {
	bad := func(why string, args ...any) error {
		return fmt.Errorf("%w: tcpv4 gso: %s", ErrOffloadRequest, fmt.Sprintf(why, args...))
	}
	mss := int(o.GSOSize)
	if mss <= 0 {
		return bad("gso size %d", mss)
	}
	if len(f) < ether.HeaderLen+20+20 || binary.BigEndian.Uint16(f[12:]) != uint16(ether.TypeIPv4) {
		return bad("not an IPv4 frame (%d bytes)", len(f))
	}
	ip := f[ether.HeaderLen:]
	ihl := int(ip[0]&0xf) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != 6 || len(ip) < ihl+20 {
		return bad("not IPv4/TCP")
	}
	if tot := int(binary.BigEndian.Uint16(ip[2:])); tot != len(ip) {
		return bad("IP total length %d in a %d-byte datagram", tot, len(ip))
	}
	thl := int(ip[ihl+12]>>4) * 4
	hl := ether.HeaderLen + ihl + thl
	if thl < 20 || hl > len(f) || int(o.HdrLen) != hl {
		return bad("header length %d (TCP %d), request says %d", hl, thl, o.HdrLen)
	}
	if !o.Csum || int(o.CsumStart) != ether.HeaderLen+ihl || o.CsumOffset != 16 {
		return bad("checksum request %v %d+%d", o.Csum, o.CsumStart, o.CsumOffset)
	}
	payload := f[hl:]
	if len(payload) == 0 {
		return bad("no payload")
	}
	id := binary.BigEndian.Uint16(ip[4:])
	seq := binary.BigEndian.Uint32(ip[ihl+4:])
	flags := ip[ihl+13]
	// The field holds the pseudo-header sum over the TCP length of the
	// whole datagram: take that length out once; each segment adds its own.
	partial := uint32(binary.BigEndian.Uint16(ip[ihl+16:]))
	base := subLen(partial, thl+len(payload))
	// One allocation for all the segments; each is capped at its end
	// so an emit that keeps and appends cannot run into the next.
	nseg := (len(payload) + mss - 1) / mss
	all := make([]byte, nseg*hl+len(payload))
	for off, i := 0, 0; off < len(payload); i++ {
		n := min(mss, len(payload)-off)
		s := all[: hl+n : hl+n]
		all = all[hl+n:]
		copy(s, f[:hl])
		copy(s[hl:], payload[off:off+n])
		sip := s[ether.HeaderLen:]
		binary.BigEndian.PutUint16(sip[2:], uint16(ihl+thl+n))
		binary.BigEndian.PutUint16(sip[4:], id+uint16(i))
		sip[10], sip[11] = 0, 0
		binary.BigEndian.PutUint16(sip[10:], checksum.Checksum(sip[:ihl]))
		th := sip[ihl:]
		binary.BigEndian.PutUint32(th[4:], seq+uint32(off))
		fl := flags
		if off+n < len(payload) {
			fl &^= 0x01 | 0x08 // FIN, PSH: last segment only
		}
		if i > 0 {
			fl &^= 0x80 // CWR: first segment only
		}
		th[13] = fl
		sum := base + uint32(thl+n)
		binary.BigEndian.PutUint16(th[16:], ^checksum.Fold(sum))
		binary.BigEndian.PutUint16(th[16:], checksum.Checksum(th))
		emit(s)
		off += n
	}
	return nil
}

// subLen removes a 16-bit length from a one's-complement sum: adding its
// complement is subtracting it (RFC 1624).
func subLen(sum uint32, n int) uint32 {
	return sum + uint32(^uint16(n))
}
