// Package ether is the Ethernet II frame format (IEEE 802.3 clause 3.2 with
// the DIX type field): a 14-byte header of destination MAC, source MAC and
// EtherType, followed by the payload. The frame check sequence is the
// device's business and never appears here.
//
// Frame is a view over a byte slice: accessors read and write the wire
// bytes in place, so decoding allocates nothing.
package ether

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the size of an Ethernet II header (no 802.1Q tag).
const HeaderLen = 14

// EtherType values (IEEE registry) the stack handles.
const (
	TypeIPv4 uint16 = 0x0800
	TypeARP  uint16 = 0x0806
	TypeVLAN uint16 = 0x8100
	TypeIPv6 uint16 = 0x86dd
)

// MinFrame is the smallest frame without FCS (60 bytes): shorter frames are
// padded with zeros on output.
const MinFrame = 60

// MAC is a 48-bit IEEE 802 address.
type MAC [6]byte

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// IsMulticast reports whether the group bit (I/G, bit 0 of the first
// octet) is set; broadcast is a multicast address.
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// ErrShort is returned for a frame shorter than an Ethernet header.
var ErrShort = errors.New("ether: frame shorter than header")

// Frame is an Ethernet II frame: header followed by payload.
type Frame []byte

// Parse checks that b holds at least a header and returns it as a Frame.
func Parse(b []byte) (Frame, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("ether: %d bytes: %w", len(b), ErrShort)
	}
	return Frame(b), nil
}

func (f Frame) Dst() (m MAC)     { copy(m[:], f[0:6]); return }
func (f Frame) Src() (m MAC)     { copy(m[:], f[6:12]); return }
func (f Frame) Type() uint16     { return binary.BigEndian.Uint16(f[12:14]) }
func (f Frame) Payload() []byte  { return f[HeaderLen:] }
func (f Frame) SetDst(m MAC)     { copy(f[0:6], m[:]) }
func (f Frame) SetSrc(m MAC)     { copy(f[6:12], m[:]) }
func (f Frame) SetType(t uint16) { binary.BigEndian.PutUint16(f[12:14], t) }

// Encode writes a header into b[:HeaderLen]; b must be at least that long.
func Encode(b []byte, dst, src MAC, typ uint16) Frame {
	f := Frame(b)
	f.SetDst(dst)
	f.SetSrc(src)
	f.SetType(typ)
	return f
}

// Build returns a new frame carrying payload, padded to MinFrame.
func Build(dst, src MAC, typ uint16, payload []byte) []byte {
	n := HeaderLen + len(payload)
	if n < MinFrame {
		n = MinFrame
	}
	b := make([]byte, n)
	Encode(b, dst, src, typ)
	copy(b[HeaderLen:], payload)
	return b
}
