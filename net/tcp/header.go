package tcp

import (
	"encoding/binary"
	"errors"
)

// TCP header layout, RFC 9293 §3.1 (Figure 1). Offsets are in bytes from the
// start of the header.
const (
	offSrcPort  = 0
	offDstPort  = 2
	offSeq      = 4
	offAck      = 8
	offDataOff  = 12 // high nibble: data offset in 32-bit words
	offFlags    = 13
	offWindow   = 14
	offChecksum = 16
	offUrgent   = 18

	// HeaderMinLen is the size of a header without options.
	HeaderMinLen = 20
	// HeaderMaxLen is the largest header the 4-bit data offset can describe.
	HeaderMaxLen = 60
	// ProtocolNumber is TCP's IP protocol number (RFC 9293 §3.1).
	ProtocolNumber = 6
)

// Flags are the control bits of RFC 9293 §3.1 plus ECE/CWR (RFC 3168).
type Flags uint8

const (
	FlagFIN Flags = 1 << 0
	FlagSYN Flags = 1 << 1
	FlagRST Flags = 1 << 2
	FlagPSH Flags = 1 << 3
	FlagACK Flags = 1 << 4
	FlagURG Flags = 1 << 5
	FlagECE Flags = 1 << 6
	FlagCWR Flags = 1 << 7
)

func (f Flags) String() string {
	const names = "FSRPAUEC"
	var b []byte
	for i := 0; i < 8; i++ {
		if f&(1<<i) != 0 {
			b = append(b, names[i])
		}
	}
	if len(b) == 0 {
		return "."
	}
	return string(b)
}

// Option kinds, RFC 9293 §3.2 and the RFCs that define each option.
const (
	OptEOL       = 0 // RFC 9293 §3.2
	OptNOP       = 1 // RFC 9293 §3.2
	OptMSS       = 2 // RFC 9293 §3.2, §3.7.1
	OptWScale    = 3 // RFC 7323 §2
	OptSACKPerm  = 4 // RFC 2018 §2
	OptSACK      = 5 // RFC 2018 §3
	OptTimestamp = 8 // RFC 7323 §3

	maxWScale     = 14 // RFC 7323 §2.3
	maxSACKBlocks = 4  // 2 + 4*8 = 34 bytes; with timestamps only 3 fit
)

// Header is a typed view of a TCP header over a byte slice, in the manner of
// gVisor's header.TCP: accessors read and write the wire bytes in place, so
// parsing allocates nothing. The slice must hold at least HeaderMinLen bytes
// (Validate checks a received one).
type Header []byte

func (h Header) SrcPort() uint16     { return binary.BigEndian.Uint16(h[offSrcPort:]) }
func (h Header) DstPort() uint16     { return binary.BigEndian.Uint16(h[offDstPort:]) }
func (h Header) Seq() uint32         { return binary.BigEndian.Uint32(h[offSeq:]) }
func (h Header) Ack() uint32         { return binary.BigEndian.Uint32(h[offAck:]) }
func (h Header) DataOffset() int     { return int(h[offDataOff]>>4) * 4 }
func (h Header) Flags() Flags        { return Flags(h[offFlags]) }
func (h Header) Window() uint16      { return binary.BigEndian.Uint16(h[offWindow:]) }
func (h Header) Checksum() uint16    { return binary.BigEndian.Uint16(h[offChecksum:]) }
func (h Header) UrgentPtr() uint16   { return binary.BigEndian.Uint16(h[offUrgent:]) }
func (h Header) Options() []byte     { return h[HeaderMinLen:h.DataOffset()] }
func (h Header) Payload() []byte     { return h[h.DataOffset():] }
func (h Header) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(h[offSrcPort:], p) }
func (h Header) SetDstPort(p uint16) { binary.BigEndian.PutUint16(h[offDstPort:], p) }
func (h Header) SetSeq(v uint32)     { binary.BigEndian.PutUint32(h[offSeq:], v) }
func (h Header) SetAck(v uint32)     { binary.BigEndian.PutUint32(h[offAck:], v) }
func (h Header) SetFlags(f Flags)    { h[offFlags] = uint8(f) }
func (h Header) SetWindow(w uint16)  { binary.BigEndian.PutUint16(h[offWindow:], w) }
func (h Header) SetChecksum(c uint16) {
	binary.BigEndian.PutUint16(h[offChecksum:], c)
}
func (h Header) SetUrgentPtr(u uint16) { binary.BigEndian.PutUint16(h[offUrgent:], u) }

// SetDataOffset stores the header length n (a multiple of 4, 20..60); the
// reserved bits are cleared as RFC 9293 §3.1 requires of a sender.
func (h Header) SetDataOffset(n int) { h[offDataOff] = uint8(n/4) << 4 }

// Errors from Validate: each is a drop reason counted by the stack.
var (
	ErrShortHeader = errors.New("tcp: segment shorter than header")
	ErrBadOffset   = errors.New("tcp: data offset out of range")
)

// Validate checks that h is long enough for its own data offset.
func (h Header) Validate() error {
	if len(h) < HeaderMinLen {
		return ErrShortHeader
	}
	off := h.DataOffset()
	if off < HeaderMinLen || off > len(h) {
		return ErrBadOffset
	}
	return nil
}

// SACKBlock is one [Start, End) range of RFC 2018 §3.
type SACKBlock struct{ Start, End uint32 }

// Options is the decoded form of the options this stack understands. The
// Has* flags say whether the option was present; unknown options are
// skipped, as RFC 9293 §3.2 requires.
type Options struct {
	MSS       uint16
	HasMSS    bool
	WScale    uint8
	HasWScale bool
	SACKPerm  bool
	TSVal     uint32
	TSEcr     uint32
	HasTS     bool
	SACK      [maxSACKBlocks]SACKBlock
	NumSACK   int
}

// ErrBadOption reports a malformed option list.
var ErrBadOption = errors.New("tcp: malformed option")

// ParseOptions decodes b (the bytes between the fixed header and the
// payload). A malformed list, one whose length field runs off the end or is
// shorter than 2, is an error: RFC 9293 §3.2 says such a segment must be
// handled without crashing, and we drop it. Options of a known kind but the
// wrong length are ignored (RFC 7323 §2.2, §3.2 say to ignore them).
func ParseOptions(b []byte, o *Options) error {
	*o = Options{}
	for len(b) > 0 {
		kind := b[0]
		switch kind {
		case OptEOL:
			return nil
		case OptNOP:
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return ErrBadOption
		}
		l := int(b[1])
		if l < 2 || l > len(b) {
			return ErrBadOption
		}
		v := b[2:l]
		switch kind {
		case OptMSS:
			if len(v) == 2 {
				o.MSS, o.HasMSS = binary.BigEndian.Uint16(v), true
			}
		case OptWScale:
			if len(v) == 1 {
				o.WScale, o.HasWScale = min(v[0], maxWScale), true
			}
		case OptSACKPerm:
			if len(v) == 0 {
				o.SACKPerm = true
			}
		case OptTimestamp:
			if len(v) == 8 {
				o.TSVal = binary.BigEndian.Uint32(v)
				o.TSEcr = binary.BigEndian.Uint32(v[4:])
				o.HasTS = true
			}
		case OptSACK:
			if len(v)%8 == 0 {
				o.NumSACK = 0
				for i := 0; i+8 <= len(v) && o.NumSACK < maxSACKBlocks; i += 8 {
					o.SACK[o.NumSACK] = SACKBlock{
						binary.BigEndian.Uint32(v[i:]),
						binary.BigEndian.Uint32(v[i+4:]),
					}
					o.NumSACK++
				}
			}
		}
		b = b[l:]
	}
	return nil
}

// EncodeOptions writes o into b in the order and alignment Linux uses
// (MSS; SACK-permitted folded into the timestamp's padding; NOP-padded
// timestamps; NOP+window scale; NOP-padded SACK blocks) and returns the
// length written, always a multiple of 4. b must have room for
// HeaderMaxLen-HeaderMinLen bytes; SACK blocks that do not fit are left out.
func EncodeOptions(b []byte, o *Options) int {
	n := 0
	if o.HasMSS {
		b[0], b[1] = OptMSS, 4
		binary.BigEndian.PutUint16(b[2:], o.MSS)
		n = 4
	}
	switch {
	case o.HasTS && o.SACKPerm:
		b[n], b[n+1] = OptSACKPerm, 2
		n += 2
		b[n], b[n+1] = OptTimestamp, 10
		binary.BigEndian.PutUint32(b[n+2:], o.TSVal)
		binary.BigEndian.PutUint32(b[n+6:], o.TSEcr)
		n += 10
	case o.HasTS:
		b[n], b[n+1], b[n+2], b[n+3] = OptNOP, OptNOP, OptTimestamp, 10
		binary.BigEndian.PutUint32(b[n+4:], o.TSVal)
		binary.BigEndian.PutUint32(b[n+8:], o.TSEcr)
		n += 12
	case o.SACKPerm:
		b[n], b[n+1], b[n+2], b[n+3] = OptNOP, OptNOP, OptSACKPerm, 2
		n += 4
	}
	if o.HasWScale {
		b[n], b[n+1], b[n+2], b[n+3] = OptNOP, OptWScale, 3, o.WScale
		n += 4
	}
	if o.NumSACK > 0 {
		room := (HeaderMaxLen - HeaderMinLen - n - 4) / 8
		k := min(o.NumSACK, room)
		if k > 0 {
			b[n], b[n+1], b[n+2], b[n+3] = OptNOP, OptNOP, OptSACK, uint8(2+8*k)
			n += 4
			for i := 0; i < k; i++ {
				binary.BigEndian.PutUint32(b[n:], o.SACK[i].Start)
				binary.BigEndian.PutUint32(b[n+4:], o.SACK[i].End)
				n += 8
			}
		}
	}
	return n
}
