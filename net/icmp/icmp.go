// Package icmp is the Internet Control Message Protocol for IPv4
// (RFC 792): echo request/reply, destination unreachable (with the
// next-hop MTU of RFC 1191 §4 for "fragmentation needed"), time exceeded,
// and the rules of RFC 1122 §3.2.2 for when an error may be sent at all.
package icmp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"damselfly/net/checksum"
	"damselfly/net/ipv4"
)

// HeaderLen is the fixed part of every ICMP message.
const HeaderLen = 8

// Types and codes (RFC 792; RFC 1191 for code 4's MTU field).
const (
	TypeEchoReply      uint8 = 0
	TypeDestUnreach    uint8 = 3
	TypeEchoRequest    uint8 = 8
	TypeTimeExceeded   uint8 = 11
	TypeParamProblem   uint8 = 12
	CodeNetUnreach     uint8 = 0
	CodeHostUnreach    uint8 = 1
	CodeProtoUnreach   uint8 = 2
	CodePortUnreach    uint8 = 3
	CodeFragNeeded     uint8 = 4
	CodeTTLExceeded    uint8 = 0
	CodeReassemblyTime uint8 = 1
)

// maxErrorLen bounds an error message to the 576-byte datagram every host
// must accept (RFC 1812 §4.3.2.3 allows quoting as much as fits).
const maxErrorLen = 576 - ipv4.MinHeaderLen

var (
	ErrShort    = errors.New("icmp: message too short")
	ErrChecksum = errors.New("icmp: bad checksum")
)

// Message is a view over an ICMP message.
type Message []byte

func (m Message) Type() uint8      { return m[0] }
func (m Message) Code() uint8      { return m[1] }
func (m Message) Checksum() uint16 { return binary.BigEndian.Uint16(m[2:4]) }

// ID and Seq are the echo identifier and sequence number.
func (m Message) ID() uint16  { return binary.BigEndian.Uint16(m[4:6]) }
func (m Message) Seq() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// MTU is the next-hop MTU of a fragmentation-needed message (RFC 1191 §4);
// zero from an old router that does not fill it in.
func (m Message) MTU() int { return int(binary.BigEndian.Uint16(m[6:8])) }

// Body is what follows the 8-byte header: echo data, or the quoted
// datagram of an error.
func (m Message) Body() []byte { return m[HeaderLen:] }

// IsError reports whether the type is an error message, which must never
// itself provoke an error (RFC 1122 §3.2.2).
func (m Message) IsError() bool {
	switch m.Type() {
	case TypeDestUnreach, TypeTimeExceeded, TypeParamProblem, 4, 5:
		return true
	}
	return false
}

// Parse checks the length and checksum of a received message.
func Parse(b []byte) (Message, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("icmp: %d bytes: %w", len(b), ErrShort)
	}
	if checksum.Checksum(b) != 0 {
		return nil, ErrChecksum
	}
	return Message(b), nil
}

// Quoted returns the IPv4 header of the datagram an error message quotes and
// the first bytes of its payload (at least 8: the transport ports).
func (m Message) Quoted() (ipv4.Header, []byte, error) {
	q := m.Body()
	if len(q) < ipv4.MinHeaderLen {
		return nil, nil, fmt.Errorf("icmp: quoted datagram %d bytes: %w", len(q), ErrShort)
	}
	h := ipv4.Header(q)
	hl := h.HeaderLen()
	if h.Version() != ipv4.Version || hl < ipv4.MinHeaderLen || len(q) < hl+8 {
		return nil, nil, fmt.Errorf("icmp: quoted header: %w", ErrShort)
	}
	return h[:hl], q[hl:], nil
}

func build(typ, code uint8, rest uint32, body []byte) []byte {
	b := make([]byte, HeaderLen+len(body))
	b[0], b[1] = typ, code
	binary.BigEndian.PutUint32(b[4:8], rest)
	copy(b[HeaderLen:], body)
	binary.BigEndian.PutUint16(b[2:4], checksum.Checksum(b))
	return b
}

// Echo builds an echo request or reply.
func Echo(typ uint8, id, seq uint16, data []byte) []byte {
	return build(typ, 0, uint32(id)<<16|uint32(seq), data)
}

// Reply turns a received echo request into its reply message (RFC 792:
// same identifier, sequence and data).
func Reply(req Message) []byte {
	return Echo(TypeEchoReply, req.ID(), req.Seq(), req.Body())
}

// Error builds an error message of the given type and code quoting the
// offending datagram, or returns nil when RFC 1122 §3.2.2 forbids an error
// about it: an ICMP error, a non-first fragment, or a datagram whose source
// is not a unicast host. isBroadcastDst says the datagram was sent to a
// broadcast or multicast address, which also suppresses the error. mtu is
// used only for code 4 of type 3.
func Error(typ, code uint8, mtu int, orig ipv4.Header, isBroadcastDst bool) []byte {
	if len(orig) < ipv4.MinHeaderLen || orig.FragOffset() != 0 || isBroadcastDst {
		return nil
	}
	s := orig.Src()
	if s.IsUnspecified() || s.IsMulticast() || s.IsLoopback() || s == ipv4Broadcast {
		return nil
	}
	if orig.Protocol() == ipv4.ProtoICMP {
		p := orig[orig.HeaderLen():]
		if len(p) < 1 || Message(p).IsError() {
			return nil
		}
	}
	q := []byte(orig)
	if len(q) > maxErrorLen-HeaderLen {
		q = q[:maxErrorLen-HeaderLen]
	}
	var rest uint32
	if typ == TypeDestUnreach && code == CodeFragNeeded {
		rest = uint32(uint16(mtu))
	}
	return build(typ, code, rest, q)
}
