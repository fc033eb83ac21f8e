// Package checksum computes the Internet checksum (RFC 1071) used by IPv4,
// ICMP, UDP and TCP, and the TCP/UDP pseudo-header sum (RFC 9293 §3.1,
// RFC 768).
//
// Sums are carried unfolded in a uint32 so that callers can add the
// pseudo-header, the header and the payload in separate steps without
// copying them into one buffer; Fold turns the running sum into the 16-bit
// one's-complement value that goes on the wire.
package checksum

import (
	"encoding/binary"
	"net/netip"
)

// Add returns sum plus the 16-bit big-endian words of b. An odd trailing
// byte is padded with a zero byte, as RFC 1071 §4.1 prescribes; callers that
// sum a message in pieces must therefore split it at even offsets.
func Add(sum uint32, b []byte) uint32 {
	// Eight bytes at a time into a 64-bit accumulator: the carries are
	// kept in the high half and folded once at the end, which is what
	// makes this several times faster than a word loop.
	var acc uint64 = uint64(sum)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		acc += v >> 32
		acc += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	for acc>>32 != 0 {
		acc = (acc & 0xffffffff) + (acc >> 32)
	}
	return uint32(acc)
}

// Fold reduces a running sum to 16 bits and complements it: the value to
// store in a checksum field. A received message whose sum (checksum field
// included) folds to 0 is intact.
func Fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return ^uint16(sum)
}

// Checksum is Fold(Add(0, b)).
func Checksum(b []byte) uint16 { return Fold(Add(0, b)) }

// PseudoHeader returns the sum of the IPv4 pseudo-header that TCP and UDP
// include in their checksums: source, destination, protocol and the
// transport length (header plus payload).
func PseudoHeader(src, dst netip.Addr, proto uint8, length int) uint32 {
	s4, d4 := src.As4(), dst.As4()
	sum := Add(0, s4[:])
	sum = Add(sum, d4[:])
	return sum + uint32(proto) + uint32(length)
}
