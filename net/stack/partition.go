package stack

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// A Partition maps a connection's 4-tuple to the protocol thread that owns
// it. It must give the same thread for both directions of a connection,
// computed from a packet alone, so that input (remote→local) and output
// (local→remote) meet on one thread without a lookup table.
type Partition interface {
	// Thread returns the owner, in [0, n), of the flow between src and dst.
	Thread(src, dst netip.AddrPort, n int) int
	// Name is the cmdline spelling (netpart=...).
	Name() string
}

// PartitionByName returns the partition function for a cmdline value.
func PartitionByName(name string) (Partition, error) {
	switch name {
	case "ports":
		return Ports{}, nil
	case "toeplitz":
		return Toeplitz{}, nil
	}
	return nil, fmt.Errorf("stack: unknown partition %q (want ports or toeplitz)", name)
}

// Ports is the design's own rule (seed 000, "New I/O Device Model"): work
// split by port number mod N, here (local port + remote port) mod N, which
// is symmetric because addition commutes.
type Ports struct{}

func (Ports) Name() string { return "ports" }
func (Ports) Thread(src, dst netip.AddrPort, n int) int {
	return (int(src.Port()) + int(dst.Port())) % n
}

// SymmetricKey is the 40-byte Toeplitz key of 0x6d, 0x5a repeated. Because
// the key repeats every 16 bits, swapping source and destination (both the
// 32-bit addresses and the 16-bit ports) leaves the hash unchanged
// (Woo & Park, "Scalable TCP Session Monitoring with Symmetric RSS"), which
// is what lets a NIC steer both directions of a flow to one queue.
// Read-only: symmetricTable is derived from it at init, so changing it
// would make software and table hashes disagree.
var SymmetricKey = func() []byte {
	k := make([]byte, 40)
	for i := range k {
		if i%2 == 0 {
			k[i] = 0x6d
		} else {
			k[i] = 0x5a
		}
	}
	return k
}()

// Toeplitz is DragonFly's later rule: the RSS Toeplitz hash with the
// symmetric key over (source address, destination address, source port,
// destination port), then (hash & 127) mod N: the low 7 bits index a
// 128-entry redirection table, as on RSS-capable NICs, so the device can
// deliver each packet straight to the owner's queue.
type Toeplitz struct{}

func (Toeplitz) Name() string { return "toeplitz" }
func (Toeplitz) Thread(src, dst netip.AddrPort, n int) int {
	return ThreadOfHash(symmetricHash(src, dst), n)
}

// symmetricTable[i][b] is the hash contribution of byte value b at input
// position i under SymmetricKey: the hash is linear (XOR) in the input
// bits, so a 12-byte tuple hashes with 12 lookups instead of 96 bit steps
// (DragonFly's toeplitz_cache does the same). Each row is built from its
// eight one-bit values, one XOR per entry: hashing all 3,072 entries in
// full cost about 10 ms of the guest's boot under TCG.
var symmetricTable = func() (t [12][256]uint32) {
	for i := range t {
		var bit [8]uint32 // bit[j]: the contribution of bit j (1<<j) of byte i
		for j := range bit {
			bit[j] = keyWindow(SymmetricKey, 8*i+7-j)
		}
		for b := 1; b < 256; b++ {
			low := bits.TrailingZeros8(uint8(b))
			t[i][b] = t[i][b&(b-1)] ^ bit[low]
		}
	}
	return
}()

// keyWindow returns the 32 bits of key starting at bit p (most significant
// bit of key[0] is bit 0): what an input bit at position p XORs into a
// Toeplitz hash.
func keyWindow(key []byte, p int) uint32 {
	return uint32(binary.BigEndian.Uint64(pad8(key, p/8)) << (p % 8) >> 32)
}

func symmetricHash(src, dst netip.AddrPort) uint32 {
	s, d := src.Addr().As4(), dst.Addr().As4()
	sp, dp := src.Port(), dst.Port()
	t := &symmetricTable
	return t[0][s[0]] ^ t[1][s[1]] ^ t[2][s[2]] ^ t[3][s[3]] ^
		t[4][d[0]] ^ t[5][d[1]] ^ t[6][d[2]] ^ t[7][d[3]] ^
		t[8][sp>>8] ^ t[9][sp&0xff] ^ t[10][dp>>8] ^ t[11][dp&0xff]
}

// ThreadOfHash maps an RSS hash to a thread through a 128-entry table
// filled round-robin (entry i holds i mod n).
func ThreadOfHash(h uint32, n int) int { return int(h&127) % n }

// ToeplitzHash computes the Toeplitz hash of input under key (Microsoft
// "RSS hashing functions"): for every set bit of input, most significant
// first, XOR in the 32 bits of key starting at that bit's position. key
// must be at least len(input)+4 bytes.
func ToeplitzHash(key, input []byte) uint32 {
	var h uint32
	// window holds key bits [i, i+64) for the current input byte's first
	// bit i; shifting it left one bit per input bit slides the 32-bit
	// window along the key.
	window := binary.BigEndian.Uint64(pad8(key, 0))
	for i, b := range input {
		next := uint64(0)
		if i+8 < len(key) {
			next = uint64(key[i+8])
		}
		for bit := 7; bit >= 0; bit-- {
			if b&(1<<bit) != 0 {
				h ^= uint32(window >> 32)
			}
			window <<= 1
			// Bring in the next key bit at the bottom.
			window |= (next >> bit) & 1
		}
	}
	return h
}

func pad8(key []byte, off int) []byte {
	var b [8]byte
	copy(b[:], key[off:])
	return b[:]
}

// RSSHash is the IPv4/TCP RSS hash of a flow: input is source address,
// destination address, source port, destination port, big-endian.
func RSSHash(key []byte, src, dst netip.AddrPort) uint32 {
	if &key[0] == &SymmetricKey[0] {
		return symmetricHash(src, dst)
	}
	var in [12]byte
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(in[0:4], s[:])
	copy(in[4:8], d[:])
	binary.BigEndian.PutUint16(in[8:10], src.Port())
	binary.BigEndian.PutUint16(in[10:12], dst.Port())
	return ToeplitzHash(key, in[:])
}

// flowOf extracts the 4-tuple of an unfragmented IPv4 TCP or UDP packet
// starting at an Ethernet header, cheaply and without validation: it is
// used only to steer, and the owning thread validates everything.
func flowOf(frame []byte) (src, dst netip.AddrPort, ok bool) {
	const eh = 14
	if len(frame) < eh+20 || frame[12] != 0x08 || frame[13] != 0x00 {
		return
	}
	ip := frame[eh:]
	ihl := int(ip[0]&0xf) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl+4 {
		return
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 { // MF or offset: fragment
		return
	}
	if ip[9] != 6 && ip[9] != 17 {
		return
	}
	sa := netip.AddrFrom4([4]byte(ip[12:16]))
	da := netip.AddrFrom4([4]byte(ip[16:20]))
	src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(ip[ihl:]))
	dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(ip[ihl+2:]))
	return src, dst, true
}

// FrameRSS computes what an RSS NIC would for a received frame: the
// Toeplitz hash of its IPv4 TCP/UDP 4-tuple, or false for other frames.
// link.PipeConfig.Hash takes it to emulate a multi-queue device.
func FrameRSS(key, frame []byte) (uint32, bool) {
	s, d, ok := flowOf(frame)
	if !ok {
		return 0, false
	}
	return RSSHash(key, s, d), true
}
