// Package arp is the Address Resolution Protocol for IPv4 over Ethernet
// (RFC 826): the 28-byte packet format, and a neighbour cache with entry
// timeouts, a bounded queue of packets waiting for a resolution, request
// retransmission, and gratuitous announcements (RFC 5227 §3).
package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"damselfly/net/ether"
)

// PacketLen is the size of an Ethernet/IPv4 ARP packet.
const PacketLen = 28

// Field values from RFC 826 and the IANA ARP registry.
const (
	HTypeEthernet uint16 = 1
	OpRequest     uint16 = 1
	OpReply       uint16 = 2
)

// Errors returned by Parse.
var (
	ErrShort       = errors.New("arp: packet too short")
	ErrUnsupported = errors.New("arp: not Ethernet/IPv4")
)

// Packet is a view over an Ethernet/IPv4 ARP packet.
type Packet []byte

// Parse validates the fixed fields (hardware Ethernet, protocol IPv4, the
// 6/4 address lengths) and returns the view.
func Parse(b []byte) (Packet, error) {
	if len(b) < PacketLen {
		return nil, fmt.Errorf("arp: %d bytes: %w", len(b), ErrShort)
	}
	p := Packet(b[:PacketLen])
	if p.HType() != HTypeEthernet || p.PType() != ether.TypeIPv4 || b[4] != 6 || b[5] != 4 {
		return nil, fmt.Errorf("arp: htype %d ptype %#x hlen %d plen %d: %w", p.HType(), p.PType(), b[4], b[5], ErrUnsupported)
	}
	return p, nil
}

func (p Packet) HType() uint16 { return binary.BigEndian.Uint16(p[0:2]) }
func (p Packet) PType() uint16 { return binary.BigEndian.Uint16(p[2:4]) }
func (p Packet) Op() uint16    { return binary.BigEndian.Uint16(p[6:8]) }
func (p Packet) SenderMAC() (m ether.MAC) {
	copy(m[:], p[8:14])
	return
}
func (p Packet) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(p[14:18])) }
func (p Packet) TargetMAC() (m ether.MAC) {
	copy(m[:], p[18:24])
	return
}
func (p Packet) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(p[24:28])) }

// Encode writes an Ethernet/IPv4 ARP packet into b[:PacketLen].
func Encode(b []byte, op uint16, sha ether.MAC, spa netip.Addr, tha ether.MAC, tpa netip.Addr) Packet {
	p := Packet(b[:PacketLen])
	binary.BigEndian.PutUint16(p[0:2], HTypeEthernet)
	binary.BigEndian.PutUint16(p[2:4], ether.TypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], op)
	copy(p[8:14], sha[:])
	s := spa.As4()
	copy(p[14:18], s[:])
	copy(p[18:24], tha[:])
	t := tpa.As4()
	copy(p[24:28], t[:])
	return p
}

// Frame returns a complete Ethernet frame carrying an ARP packet. Requests
// go to the broadcast address, replies to the target.
func Frame(op uint16, sha ether.MAC, spa netip.Addr, tha ether.MAC, tpa netip.Addr) []byte {
	var p [PacketLen]byte
	Encode(p[:], op, sha, spa, tha, tpa)
	dst := tha
	if op == OpRequest {
		dst = ether.Broadcast
	}
	return ether.Build(dst, sha, ether.TypeARP, p[:])
}

// Gratuitous returns an ARP announcement (RFC 5227 §3): a broadcast request
// whose sender and target protocol addresses are both our own, so that
// neighbours update any stale entry for ip.
func Gratuitous(mac ether.MAC, ip netip.Addr) []byte {
	return Frame(OpRequest, mac, ip, ether.MAC{}, ip)
}
