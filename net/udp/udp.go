// Package udp is the User Datagram Protocol (RFC 768): the 8-byte header
// as a view, checksum over the IPv4 pseudo-header, and validation of
// received datagrams.
package udp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"damselfly/net/checksum"
)

// HeaderLen is the size of a UDP header.
const HeaderLen = 8

const protoUDP = 17

var (
	ErrShort    = errors.New("udp: datagram too short")
	ErrLength   = errors.New("udp: length field disagrees with datagram")
	ErrChecksum = errors.New("udp: bad checksum")
)

// Header is a view over a UDP datagram starting at its header.
type Header []byte

func (h Header) SrcPort() uint16  { return binary.BigEndian.Uint16(h[0:2]) }
func (h Header) DstPort() uint16  { return binary.BigEndian.Uint16(h[2:4]) }
func (h Header) Length() int      { return int(binary.BigEndian.Uint16(h[4:6])) }
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h[6:8]) }
func (h Header) Payload() []byte  { return h[HeaderLen:h.Length()] }

// Encode writes a datagram header into b[:HeaderLen] for the payload that
// already sits at b[HeaderLen:HeaderLen+payloadLen], computing the
// checksum (RFC 768: a computed zero is sent as all ones).
func Encode(b []byte, src, dst netip.AddrPort, payloadLen int) Header {
	n := HeaderLen + payloadLen
	h := Header(b[:n])
	binary.BigEndian.PutUint16(h[0:2], src.Port())
	binary.BigEndian.PutUint16(h[2:4], dst.Port())
	binary.BigEndian.PutUint16(h[4:6], uint16(n))
	h[6], h[7] = 0, 0
	sum := checksum.Fold(checksum.Add(checksum.PseudoHeader(src.Addr(), dst.Addr(), protoUDP, n), h))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(h[6:8], sum)
	return h
}

// Build returns a new datagram carrying payload.
func Build(src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, HeaderLen+len(payload))
	copy(b[HeaderLen:], payload)
	Encode(b, src, dst, len(payload))
	return b
}

// Parse validates a datagram received from src to dst (the IPv4 payload):
// its length field and, unless it is zero (no checksum, RFC 768), its
// checksum. The view is trimmed to the length field.
func Parse(b []byte, src, dst netip.Addr) (Header, error) {
	h, err := parseLength(b)
	if err != nil {
		return nil, err
	}
	if h.Checksum() != 0 && checksum.Fold(checksum.Add(checksum.PseudoHeader(src, dst, protoUDP, len(h)), h)) != 0 {
		return nil, ErrChecksum
	}
	return h, nil
}

// ParseValidated is Parse for a datagram whose checksum the device has
// verified (link.RSS.ChecksumValid): the length is checked, the checksum
// is not summed again.
func ParseValidated(b []byte, src, dst netip.Addr) (Header, error) { return parseLength(b) }

func parseLength(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("udp: %d bytes: %w", len(b), ErrShort)
	}
	h := Header(b)
	n := h.Length()
	if n < HeaderLen || n > len(b) {
		return nil, fmt.Errorf("udp: length %d, have %d: %w", n, len(b), ErrLength)
	}
	return h[:n], nil
}
