package ipv4

import "errors"

// ErrFragNeeded is returned by Fragment for a datagram larger than the MTU
// whose DF bit is set: the caller reports it (locally, or by ICMP type 3
// code 4 when forwarding).
var ErrFragNeeded = errors.New("ipv4: datagram exceeds MTU and DF is set")

// Fragment splits datagram (a complete, valid IPv4 datagram) into pieces
// of at most mtu bytes (RFC 791 §3.2 "Fragmentation"). Every fragment's
// payload but the last is a multiple of 8 bytes; options are not copied
// (we never emit any). A datagram that already fits is returned as is.
func Fragment(datagram []byte, mtu int) ([][]byte, error) {
	h := Header(datagram)
	if h.TotalLen() <= mtu {
		return [][]byte{datagram[:h.TotalLen()]}, nil
	}
	if h.DF() {
		return nil, ErrFragNeeded
	}
	hl := h.HeaderLen()
	chunk := (mtu - MinHeaderLen) &^ 7
	if chunk <= 0 {
		return nil, errors.New("ipv4: mtu too small to fragment")
	}
	payload := h.Payload()
	base := h.FragOffset() // refragmenting a fragment keeps its place
	lastMF := h.MF()
	var out [][]byte
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		f := make([]byte, MinHeaderLen+end-off)
		copy(f, datagram[:MinHeaderLen])
		f[0] = Version<<4 | MinHeaderLen/4
		fh := Header(f)
		fh.SetTotalLen(len(f))
		fh.setFlagsFrag(false, end < len(payload) || lastMF, base+off)
		copy(f[MinHeaderLen:], payload[off:end])
		fh.SetChecksum()
		out = append(out, f)
	}
	_ = hl
	return out, nil
}
