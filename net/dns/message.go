// Package dns is a minimal stub resolver for IPv4 addresses (RFC 1035):
// queries for A records, responses parsed with name compression (§4.1.4)
// followed safely, CNAME chains within one answer, and a small TTL cache.
package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Record types and classes (RFC 1035 §3.2.2-3.2.4).
const (
	TypeA     uint16 = 1
	TypeCNAME uint16 = 5
	TypeAAAA  uint16 = 28
	ClassIN   uint16 = 1
	Port             = 53

	headerLen   = 12
	maxNameLen  = 255
	maxLabelLen = 63
	maxPointers = 32 // compression loops and chains end here
	flagQR      = 0x8000
	flagRD      = 0x0100
	rcodeMask   = 0x000f
	maxMsgLen   = 512 // UDP without EDNS (RFC 1035 §4.2.1)
)

var (
	ErrShort   = errors.New("dns: message truncated")
	ErrName    = errors.New("dns: bad name")
	ErrPointer = errors.New("dns: bad compression pointer")
)

// Question is one entry of the question section.
type Question struct {
	Name        string
	Type, Class uint16
}

// Record is a resource record; Data is the raw RDATA except for CNAME,
// whose target name is decoded into Target.
type Record struct {
	Name        string
	Type, Class uint16
	TTL         time.Duration
	Data        []byte
	Target      string
}

// A returns the address of an A record.
func (r Record) A() (netip.Addr, bool) {
	if r.Type != TypeA || len(r.Data) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(r.Data)), true
}

// Message is a decoded DNS message.
type Message struct {
	ID        uint16
	Flags     uint16
	Questions []Question
	Answers   []Record
}

// Response reports the QR bit; RCode the response code.
func (m *Message) Response() bool { return m.Flags&flagQR != 0 }
func (m *Message) RCode() int     { return int(m.Flags & rcodeMask) }

// appendName writes name in wire form without compression.
func appendName(b []byte, name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".")
	if len(name) > maxNameLen-2 {
		return nil, fmt.Errorf("dns: name %q: %w", name, ErrName)
	}
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			if l == "" || len(l) > maxLabelLen {
				return nil, fmt.Errorf("dns: name %q: %w", name, ErrName)
			}
			b = append(append(b, byte(len(l))), l...)
		}
	}
	return append(b, 0), nil
}

// Query encodes a recursive query for the A records of name.
func Query(id uint16, name string) ([]byte, error) {
	b := make([]byte, headerLen, 64)
	binary.BigEndian.PutUint16(b[0:2], id)
	binary.BigEndian.PutUint16(b[2:4], flagRD)
	binary.BigEndian.PutUint16(b[4:6], 1)
	b, err := appendName(b, name)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint16(b, TypeA)
	return binary.BigEndian.AppendUint16(b, ClassIN), nil
}

// readName decodes the name at off, following compression pointers, and
// returns it with the offset just past it in the original position.
// Pointers must point strictly backwards, which with the hop bound rules
// out loops.
func readName(msg []byte, off int) (string, int, error) {
	var sb strings.Builder
	end := -1
	hops := 0
	for {
		if off >= len(msg) {
			return "", 0, ErrShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				if sb.Len() == 0 {
					return ".", end, nil
				}
				return sb.String(), end, nil
			}
			if off+1+c > len(msg) {
				return "", 0, ErrShort
			}
			if sb.Len()+c+1 > maxNameLen {
				return "", 0, ErrName
			}
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.Write(msg[off+1 : off+1+c])
			off += 1 + c
		case 0xc0:
			if off+2 > len(msg) {
				return "", 0, ErrShort
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if ptr >= off || hops >= maxPointers {
				return "", 0, ErrPointer
			}
			hops++
			if end < 0 {
				end = off + 2
			}
			off = ptr
		default:
			return "", 0, ErrName // 0x40/0x80: extended labels, obsolete
		}
	}
}

// Parse decodes a message: header, questions and answers (authority and
// additional sections are not needed by a stub resolver and are skipped).
func Parse(msg []byte) (*Message, error) {
	if len(msg) < headerLen {
		return nil, ErrShort
	}
	m := &Message{ID: binary.BigEndian.Uint16(msg[0:2]), Flags: binary.BigEndian.Uint16(msg[2:4])}
	qd := int(binary.BigEndian.Uint16(msg[4:6]))
	an := int(binary.BigEndian.Uint16(msg[6:8]))
	off := headerLen
	for range qd {
		name, n, err := readName(msg, off)
		if err != nil {
			return nil, fmt.Errorf("dns: question: %w", err)
		}
		if n+4 > len(msg) {
			return nil, ErrShort
		}
		m.Questions = append(m.Questions, Question{name, binary.BigEndian.Uint16(msg[n:]), binary.BigEndian.Uint16(msg[n+2:])})
		off = n + 4
	}
	for range an {
		name, n, err := readName(msg, off)
		if err != nil {
			return nil, fmt.Errorf("dns: answer: %w", err)
		}
		if n+10 > len(msg) {
			return nil, ErrShort
		}
		r := Record{Name: name, Type: binary.BigEndian.Uint16(msg[n:]), Class: binary.BigEndian.Uint16(msg[n+2:]),
			TTL: time.Duration(binary.BigEndian.Uint32(msg[n+4:])&0x7fffffff) * time.Second}
		rdlen := int(binary.BigEndian.Uint16(msg[n+8:]))
		rd := n + 10
		if rd+rdlen > len(msg) {
			return nil, ErrShort
		}
		r.Data = msg[rd : rd+rdlen]
		if r.Type == TypeCNAME {
			t, _, err := readName(msg, rd)
			if err != nil {
				return nil, fmt.Errorf("dns: cname: %w", err)
			}
			r.Target = t
		}
		m.Answers = append(m.Answers, r)
		off = rd + rdlen
	}
	return m, nil
}

// compressor encodes names with back-references to suffixes already
// written, as a server does; the tests use it to build compressed
// responses, and Encode uses it for answers.
type compressor map[string]int

func (c compressor) appendName(b []byte, name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".")
	for name != "" {
		if off, ok := c[strings.ToLower(name)]; ok {
			return binary.BigEndian.AppendUint16(b, uint16(0xc000|off)), nil
		}
		if len(b) < 0x3fff {
			c[strings.ToLower(name)] = len(b)
		}
		l, rest, _ := strings.Cut(name, ".")
		if l == "" || len(l) > maxLabelLen {
			return nil, ErrName
		}
		b = append(append(b, byte(len(l))), l...)
		name = rest
	}
	return append(b, 0), nil
}

// Encode serialises m with name compression (questions and answers only).
func (m *Message) Encode() ([]byte, error) {
	b := make([]byte, headerLen, 128)
	binary.BigEndian.PutUint16(b[0:2], m.ID)
	binary.BigEndian.PutUint16(b[2:4], m.Flags)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(m.Questions)))
	binary.BigEndian.PutUint16(b[6:8], uint16(len(m.Answers)))
	c := compressor{}
	var err error
	for _, q := range m.Questions {
		if b, err = c.appendName(b, q.Name); err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint16(b, q.Type)
		b = binary.BigEndian.AppendUint16(b, q.Class)
	}
	for _, r := range m.Answers {
		if b, err = c.appendName(b, r.Name); err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint16(b, r.Type)
		b = binary.BigEndian.AppendUint16(b, r.Class)
		b = binary.BigEndian.AppendUint32(b, uint32(r.TTL/time.Second))
		data := r.Data
		if r.Type == TypeCNAME {
			start := len(b) + 2
			nb, err := c.appendName(b[:start:start], r.Target)
			if err != nil {
				return nil, err
			}
			data = nb[start:]
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
		b = append(b, data...)
	}
	return b, nil
}
