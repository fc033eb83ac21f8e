package vnetsim

import "encoding/binary"

// toeplitz is the Microsoft RSS hash computed the slow, obvious way, bit
// by bit, so that it checks the driver's table-driven version rather than
// sharing its code: for every set bit of the input, most significant first,
// XOR in the 32 key bits starting at that bit's position.
func toeplitz(key, input []byte) uint32 {
	var h uint32
	for i := 0; i < 8*len(input); i++ {
		if input[i/8]&(0x80>>(i%8)) == 0 {
			continue
		}
		var w uint32
		for j := 0; j < 32; j++ {
			k := i + j
			if k/8 < len(key) && key[k/8]&(0x80>>(k%8)) != 0 {
				w |= 1 << (31 - j)
			}
		}
		h ^= w
	}
	return h
}

// Toeplitz exposes the device's hash for tests.
func Toeplitz(key, input []byte) uint32 { return toeplitz(key, input) }

// hashFrame computes what the device reports for a received frame under
// the enabled hash types: TCPv4 over the 4-tuple of an unfragmented
// TCP segment, else IPv4 over the addresses; report 0 for neither.
func hashFrame(key []byte, types uint32, f []byte) (h uint32, report uint16) {
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return 0, hashReportNone
	}
	ip := f[14:]
	ihl := int(ip[0]&0xf) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl {
		return 0, hashReportNone
	}
	frag := binary.BigEndian.Uint16(ip[6:])&0x3fff != 0
	if ip[9] == 6 && !frag && len(ip) >= ihl+4 && types&hashTypeTCPv4 != 0 {
		in := make([]byte, 12)
		copy(in[0:8], ip[12:20])
		copy(in[8:12], ip[ihl:ihl+4])
		return toeplitz(key, in), hashReportTCPv4
	}
	if types&hashTypeIPv4 != 0 {
		return toeplitz(key, ip[12:20]), hashReportIPv4
	}
	return 0, hashReportNone
}
