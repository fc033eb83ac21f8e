package vnetsim

import (
	"encoding/binary"
	"fmt"

	"damselfly/net/checksum"
)

// completeCsum does what a device does for VIRTIO_NET_HDR_F_NEEDS_CSUM:
// the checksum over [start, end) stored at start+off.
func completeCsum(f []byte, start, off int) error {
	if start < 14 || start >= len(f) || start+off+2 > len(f) {
		return fmt.Errorf("vnetsim: checksum request %d+%d outside a %d-byte frame", start, off, len(f))
	}
	c := checksum.Checksum(f[start:])
	binary.BigEndian.PutUint16(f[start+off:], c)
	return nil
}

// segmentTCPv4 cuts one large TCPv4 frame into frames of at most mss
// payload bytes each (what a device does for GSO_TCPV4, §5.1.6.2): IP
// length, ID and checksum per segment, sequence numbers advanced, FIN and
// PSH only on the last segment, CWR only on the first, TCP checksums
// computed in full.
func segmentTCPv4(f []byte, mss int) ([][]byte, error) {
	if mss <= 0 || len(f) < 14+20 {
		return nil, fmt.Errorf("vnetsim: TSO frame of %d bytes, mss %d", len(f), mss)
	}
	ip := f[14:]
	ihl := int(ip[0]&0xf) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != 6 || len(ip) < ihl+20 {
		return nil, fmt.Errorf("vnetsim: TSO frame is not IPv4/TCP")
	}
	thl := int(ip[ihl+12]>>4) * 4
	hl := 14 + ihl + thl
	if thl < 20 || hl > len(f) {
		return nil, fmt.Errorf("vnetsim: TSO TCP header length %d", thl)
	}
	payload := f[hl:]
	id := binary.BigEndian.Uint16(ip[4:])
	seq := binary.BigEndian.Uint32(ip[ihl+4:])
	flags := ip[ihl+13]
	var out [][]byte
	for off, i := 0, 0; off < len(payload) || i == 0; i++ {
		n := min(mss, len(payload)-off)
		s := make([]byte, hl+n)
		copy(s, f[:hl])
		copy(s[hl:], payload[off:off+n])
		sip := s[14:]
		binary.BigEndian.PutUint16(sip[2:], uint16(ihl+thl+n))
		binary.BigEndian.PutUint16(sip[4:], id+uint16(i))
		sip[10], sip[11] = 0, 0
		binary.BigEndian.PutUint16(sip[10:], checksum.Checksum(sip[:ihl]))
		tcp := sip[ihl:]
		binary.BigEndian.PutUint32(tcp[4:], seq+uint32(off))
		fl := flags
		if off+n < len(payload) {
			fl &^= 0x01 | 0x08 // FIN, PSH
		}
		if i > 0 {
			fl &^= 0x80 // CWR
		}
		tcp[13] = fl
		tcp[16], tcp[17] = 0, 0
		sum := checksum.Add(0, sip[12:20])
		sum += 6 + uint32(thl+n)
		sum = checksum.Add(sum, tcp)
		binary.BigEndian.PutUint16(tcp[16:], checksum.Fold(sum))
		out = append(out, s)
		off += n
		if n == 0 {
			break
		}
	}
	return out, nil
}
