// Package dhcp is a DHCPv4 client (RFC 2131) with the options of RFC 2132
// it needs: message type, subnet mask, router, DNS servers, lease time,
// renewal (T1) and rebinding (T2) times, server identifier and requested
// address. The client is a state machine fed with received messages and
// the current time; it never reads a clock or a socket itself.
package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"damselfly/net/ether"
)

// Ports (RFC 2131 §4.1).
const (
	ServerPort = 67
	ClientPort = 68
)

// Fixed layout (RFC 2131 §2, figure 1): 236 bytes, then the magic cookie.
const (
	fixedLen  = 236
	cookieLen = 4
	minLen    = fixedLen + cookieLen
	opRequest = 1
	opReply   = 2
	flagBcast = 0x8000
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Option codes (RFC 2132).
const (
	OptPad         = 0
	OptSubnetMask  = 1
	OptRouter      = 3
	OptDNS         = 6
	OptRequestedIP = 50
	OptLeaseTime   = 51
	OptMessageType = 53
	OptServerID    = 54
	OptParamList   = 55
	OptRenewalT1   = 58
	OptRebindT2    = 59
	OptEnd         = 255
)

// Message types (RFC 2132 §9.6).
const (
	Discover uint8 = 1
	Offer    uint8 = 2
	Request  uint8 = 3
	Decline  uint8 = 4
	Ack      uint8 = 5
	Nak      uint8 = 6
	Release  uint8 = 7
)

var (
	ErrShort   = errors.New("dhcp: message too short")
	ErrCookie  = errors.New("dhcp: bad magic cookie")
	ErrOptions = errors.New("dhcp: malformed options")
)

// Message is a decoded DHCP message: the fixed fields we use and the
// options of interest.
type Message struct {
	Op       uint8
	XID      uint32
	Secs     uint16
	Flags    uint16
	CIAddr   netip.Addr
	YIAddr   netip.Addr
	SIAddr   netip.Addr
	CHAddr   ether.MAC
	Type     uint8
	Mask     netip.Prefix // YIAddr with the subnet mask's length; invalid if absent
	Routers  []netip.Addr
	DNS      []netip.Addr
	ServerID netip.Addr
	ReqIP    netip.Addr
	Lease    time.Duration
	T1, T2   time.Duration
	Params   []byte
}

func addr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }

// Parse decodes a DHCP message (the UDP payload). Options may also be
// carried in the file and sname fields (option overload, RFC 2132 §9.3);
// we do not honour overload and ignore those fields.
func Parse(b []byte) (*Message, error) {
	if len(b) < minLen {
		return nil, fmt.Errorf("dhcp: %d bytes: %w", len(b), ErrShort)
	}
	if [4]byte(b[fixedLen:minLen]) != magicCookie {
		return nil, ErrCookie
	}
	m := &Message{
		Op: b[0], XID: binary.BigEndian.Uint32(b[4:8]), Secs: binary.BigEndian.Uint16(b[8:10]),
		Flags: binary.BigEndian.Uint16(b[10:12]), CIAddr: addr4(b[12:]), YIAddr: addr4(b[16:]),
		SIAddr: addr4(b[20:]),
	}
	if b[1] == 1 && b[2] == 6 {
		copy(m.CHAddr[:], b[28:34])
	}
	opts := b[minLen:]
	for len(opts) > 0 {
		code := opts[0]
		if code == OptPad {
			opts = opts[1:]
			continue
		}
		if code == OptEnd {
			break
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return nil, fmt.Errorf("dhcp: option %d: %w", code, ErrOptions)
		}
		v := opts[2 : 2+int(opts[1])]
		opts = opts[2+len(v):]
		switch code {
		case OptMessageType:
			if len(v) == 1 {
				m.Type = v[0]
			}
		case OptSubnetMask:
			if len(v) == 4 {
				ones := maskLen(binary.BigEndian.Uint32(v))
				if ones >= 0 {
					m.Mask = netip.PrefixFrom(m.YIAddr, ones)
				}
			}
		case OptRouter:
			m.Routers = addrList(v)
		case OptDNS:
			m.DNS = addrList(v)
		case OptServerID:
			if len(v) == 4 {
				m.ServerID = addr4(v)
			}
		case OptRequestedIP:
			if len(v) == 4 {
				m.ReqIP = addr4(v)
			}
		case OptLeaseTime:
			m.Lease = seconds(v)
		case OptRenewalT1:
			m.T1 = seconds(v)
		case OptRebindT2:
			m.T2 = seconds(v)
		case OptParamList:
			m.Params = append([]byte(nil), v...)
		}
	}
	return m, nil
}

// maskLen returns the prefix length of a contiguous netmask, or -1.
func maskLen(m uint32) int {
	n := 0
	for m&0x80000000 != 0 {
		m <<= 1
		n++
	}
	if m != 0 {
		return -1
	}
	return n
}

func addrList(v []byte) []netip.Addr {
	var out []netip.Addr
	for len(v) >= 4 {
		out = append(out, addr4(v))
		v = v[4:]
	}
	return out
}

func seconds(v []byte) time.Duration {
	if len(v) != 4 {
		return 0
	}
	return time.Duration(binary.BigEndian.Uint32(v)) * time.Second
}

// Encode serialises m. Options are written in a fixed order.
func (m *Message) Encode() []byte {
	b := make([]byte, minLen, 300)
	b[0] = m.Op
	b[1], b[2] = 1, 6 // Ethernet, 6-byte address
	binary.BigEndian.PutUint32(b[4:8], m.XID)
	binary.BigEndian.PutUint16(b[8:10], m.Secs)
	binary.BigEndian.PutUint16(b[10:12], m.Flags)
	put := func(off int, a netip.Addr) {
		if a.Is4() {
			v := a.As4()
			copy(b[off:off+4], v[:])
		}
	}
	put(12, m.CIAddr)
	put(16, m.YIAddr)
	put(20, m.SIAddr)
	copy(b[28:34], m.CHAddr[:])
	copy(b[fixedLen:], magicCookie[:])
	opt := func(code byte, v []byte) { b = append(append(b, code, byte(len(v))), v...) }
	a4 := func(a netip.Addr) []byte { v := a.As4(); return v[:] }
	u32 := func(d time.Duration) []byte { return binary.BigEndian.AppendUint32(nil, uint32(d/time.Second)) }
	opt(OptMessageType, []byte{m.Type})
	if m.Mask.IsValid() {
		mask := ^uint32(0) << (32 - m.Mask.Bits())
		if m.Mask.Bits() == 0 {
			mask = 0
		}
		opt(OptSubnetMask, binary.BigEndian.AppendUint32(nil, mask))
	}
	list := func(code byte, as []netip.Addr) {
		if len(as) > 0 {
			var v []byte
			for _, a := range as {
				v = append(v, a4(a)...)
			}
			opt(code, v)
		}
	}
	list(OptRouter, m.Routers)
	list(OptDNS, m.DNS)
	if m.ServerID.IsValid() {
		opt(OptServerID, a4(m.ServerID))
	}
	if m.ReqIP.IsValid() {
		opt(OptRequestedIP, a4(m.ReqIP))
	}
	if m.Lease > 0 {
		opt(OptLeaseTime, u32(m.Lease))
	}
	if m.T1 > 0 {
		opt(OptRenewalT1, u32(m.T1))
	}
	if m.T2 > 0 {
		opt(OptRebindT2, u32(m.T2))
	}
	if len(m.Params) > 0 {
		opt(OptParamList, m.Params)
	}
	b = append(b, OptEnd)
	// Pad to the BOOTP minimum of 300 bytes that some servers still expect.
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b
}
