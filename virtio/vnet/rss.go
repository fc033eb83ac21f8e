package vnet

// Receive-side scaling (virtio 1.2 §5.1.6.4.3 and the Microsoft RSS
// specification the device follows): the device hashes each received
// IPv4/TCP packet with the Toeplitz function over (source address,
// destination address, source port, destination port) under a 40-byte key,
// and indexes an indirection table with the low bits of the hash to pick
// the receive queue.
//
// The stack's toeplitz partition owns a connection on thread
// (hash & 127) mod N. Programming a 128-entry table with entry i = i mod N
// makes the device deliver every packet on queue (hash & 127) mod N, the
// owner's CPU, with no software steering. The key is the symmetric one
// (0x6d, 0x5a repeated), so both directions of a flow hash alike and the
// driver's own transmit-queue choice (the same function over the frame it
// sends) lands on the same queue pair.

import "encoding/binary"

// SymmetricKey returns the 40-byte Toeplitz key of 0x6d, 0x5a repeated
// (the stack's SymmetricKey; Woo & Park, symmetric RSS).
func SymmetricKey() []byte {
	k := make([]byte, rssKeyLen)
	for i := range k {
		if i%2 == 0 {
			k[i] = 0x6d
		} else {
			k[i] = 0x5a
		}
	}
	return k
}

// toeplitz hashes 12-byte IPv4 4-tuples under one key. The hash is linear
// (XOR) in the input bits, so it is precomputed per input byte position and
// value: 12 lookups per packet instead of 96 bit steps.
type toeplitz struct {
	key   []byte
	table [12][256]uint32
}

func newToeplitz(key []byte) *toeplitz {
	t := &toeplitz{key: key}
	for pos := range 12 {
		for v := range 256 {
			var h uint32
			for bit := 0; bit < 8; bit++ {
				if v&(0x80>>bit) == 0 {
					continue
				}
				h ^= keyWindow(key, pos*8+bit)
			}
			t.table[pos][v] = h
		}
	}
	return t
}

// keyWindow returns key bits [i, i+32) as a big-endian word.
func keyWindow(key []byte, i int) uint32 {
	var w uint64
	for j := 0; j < 5; j++ {
		w <<= 8
		if k := i/8 + j; k < len(key) {
			w |= uint64(key[k])
		}
	}
	return uint32(w >> (8 - uint(i%8)))
}

// hash4 hashes the tuple in its wire order (addresses and ports big-endian).
func (t *toeplitz) hash4(src, dst [4]byte, sport, dport uint16) uint32 {
	tb := &t.table
	return tb[0][src[0]] ^ tb[1][src[1]] ^ tb[2][src[2]] ^ tb[3][src[3]] ^
		tb[4][dst[0]] ^ tb[5][dst[1]] ^ tb[6][dst[2]] ^ tb[7][dst[3]] ^
		tb[8][sport>>8] ^ tb[9][sport&0xff] ^ tb[10][dport>>8] ^ tb[11][dport&0xff]
}

// Offsets into an Ethernet/IPv4 frame.
const (
	ethHeaderLen = 14
	ethTypeOff   = 12
	ethTypeIPv4  = 0x0800
	ipMinHeader  = 20
	ipProtoTCP   = 6
	ipProtoUDP   = 17
)

// frameFlow returns the IPv4 TCP/UDP 4-tuple of an unfragmented frame.
// It only steers, so it validates just enough not to read out of bounds.
func frameFlow(f []byte) (src, dst [4]byte, sport, dport uint16, ok bool) {
	if len(f) < ethHeaderLen+ipMinHeader || binary.BigEndian.Uint16(f[ethTypeOff:]) != ethTypeIPv4 {
		return
	}
	ip := f[ethHeaderLen:]
	ihl := int(ip[0]&0xf) * 4
	if ip[0]>>4 != 4 || ihl < ipMinHeader || len(ip) < ihl+4 {
		return
	}
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 || (ip[9] != ipProtoTCP && ip[9] != ipProtoUDP) {
		return
	}
	copy(src[:], ip[12:16])
	copy(dst[:], ip[16:20])
	return src, dst, binary.BigEndian.Uint16(ip[ihl:]), binary.BigEndian.Uint16(ip[ihl+2:]), true
}

// queueOfHash is the indirection table the driver programs: entry i holds
// i mod n, for a table of tableLen (a power of two) entries.
func queueOfHash(h uint32, tableLen, n int) int {
	return int(h&uint32(tableLen-1)) % n
}
