// Package ipv4 is the Internet Protocol version 4 (RFC 791): the header as a
// typed view, its checksum, validation of received datagrams (options are
// accepted and skipped), fragmentation on output and bounded reassembly on
// input (RFC 791 §3.2, with the resource limits RFC 1122 §3.3.2 asks for).
package ipv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"damselfly/net/checksum"
)

// Header sizes and field values (RFC 791 §3.1, IANA protocol numbers).
const (
	MinHeaderLen = 20
	MaxHeaderLen = 60
	Version      = 4
	DefaultTTL   = 64

	ProtoICMP uint8 = 1
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17

	flagDF     = 0x4000
	flagMF     = 0x2000
	offsetMask = 0x1fff
)

// Errors returned by Parse; the stack counts drops by these reasons.
var (
	ErrShort    = errors.New("ipv4: datagram too short")
	ErrVersion  = errors.New("ipv4: not version 4")
	ErrIHL      = errors.New("ipv4: bad header length")
	ErrLength   = errors.New("ipv4: total length disagrees with frame")
	ErrChecksum = errors.New("ipv4: bad header checksum")
)

// Header is a view over an IPv4 datagram starting at its header.
type Header []byte

func (h Header) Version() uint8    { return h[0] >> 4 }
func (h Header) HeaderLen() int    { return int(h[0]&0xf) * 4 }
func (h Header) TOS() uint8        { return h[1] }
func (h Header) TotalLen() int     { return int(binary.BigEndian.Uint16(h[2:4])) }
func (h Header) ID() uint16        { return binary.BigEndian.Uint16(h[4:6]) }
func (h Header) flagsFrag() uint16 { return binary.BigEndian.Uint16(h[6:8]) }
func (h Header) DF() bool          { return h.flagsFrag()&flagDF != 0 }
func (h Header) MF() bool          { return h.flagsFrag()&flagMF != 0 }
func (h Header) FragOffset() int   { return int(h.flagsFrag()&offsetMask) * 8 }
func (h Header) IsFragment() bool  { return h.MF() || h.FragOffset() != 0 }
func (h Header) TTL() uint8        { return h[8] }
func (h Header) Protocol() uint8   { return h[9] }
func (h Header) Checksum() uint16  { return binary.BigEndian.Uint16(h[10:12]) }
func (h Header) Src() netip.Addr   { return netip.AddrFrom4([4]byte(h[12:16])) }
func (h Header) Dst() netip.Addr   { return netip.AddrFrom4([4]byte(h[16:20])) }
func (h Header) Options() []byte   { return h[MinHeaderLen:h.HeaderLen()] }
func (h Header) Payload() []byte   { return h[h.HeaderLen():h.TotalLen()] }
func (h Header) SetTTL(t uint8)    { h[8] = t }
func (h Header) SetID(id uint16)   { binary.BigEndian.PutUint16(h[4:6], id) }
func (h Header) SetTotalLen(n int) { binary.BigEndian.PutUint16(h[2:4], uint16(n)) }
func (h Header) setFlagsFrag(df, mf bool, off int) {
	v := uint16(off/8) & offsetMask
	if df {
		v |= flagDF
	}
	if mf {
		v |= flagMF
	}
	binary.BigEndian.PutUint16(h[6:8], v)
}

// SetChecksum recomputes the header checksum in place.
func (h Header) SetChecksum() {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:12], checksum.Checksum(h[:h.HeaderLen()]))
}

// Fields describes a header to encode. Options are never emitted.
type Fields struct {
	TOS      uint8
	ID       uint16
	DF       bool
	TTL      uint8
	Protocol uint8
	Src, Dst netip.Addr
}

// Encode writes a 20-byte header for a datagram of payloadLen bytes into
// b[:MinHeaderLen], checksum included.
func Encode(b []byte, f Fields, payloadLen int) Header {
	h := Header(b[:MinHeaderLen])
	h[0] = Version<<4 | MinHeaderLen/4
	h[1] = f.TOS
	h.SetTotalLen(MinHeaderLen + payloadLen)
	h.SetID(f.ID)
	h.setFlagsFrag(f.DF, false, 0)
	ttl := f.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	h[8] = ttl
	h[9] = f.Protocol
	s, d := f.Src.As4(), f.Dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	h.SetChecksum()
	return h
}

// Parse validates a received datagram (RFC 1122 §3.2.1.1-3.2.1.2: version,
// header length, total length, checksum) and returns it trimmed to its
// total length, dropping any link-layer padding.
func Parse(b []byte) (Header, error) {
	if len(b) < MinHeaderLen {
		return nil, fmt.Errorf("ipv4: %d bytes: %w", len(b), ErrShort)
	}
	h := Header(b)
	if h.Version() != Version {
		return nil, fmt.Errorf("ipv4: version %d: %w", h.Version(), ErrVersion)
	}
	hl := h.HeaderLen()
	if hl < MinHeaderLen || hl > len(b) {
		return nil, fmt.Errorf("ipv4: ihl %d: %w", hl, ErrIHL)
	}
	tl := h.TotalLen()
	if tl < hl || tl > len(b) {
		return nil, fmt.Errorf("ipv4: total length %d, have %d: %w", tl, len(b), ErrLength)
	}
	if checksum.Checksum(b[:hl]) != 0 {
		return nil, ErrChecksum
	}
	return h[:tl], nil
}
