package tcp

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"
)

// Initial sequence numbers per RFC 6528 §3:
//
//	ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//
// where M is a clock ticking every 4 µs and F a keyed pseudo-random
// function. F here is SipHash-2-4 (Aumasson and Bernstein), keyed with
// Config.ISNSecret: an off-path attacker who does not know the key cannot
// predict the ISN of a connection, yet two incarnations of the same 4-tuple
// get increasing ISNs because M moves on, which is what lets TIME-WAIT
// recycling (RFC 6191) tell old duplicates from new SYNs.

// sipHash24 is SipHash-2-4 of msg under the 128-bit key k.
func sipHash24(k *[16]byte, msg []byte) uint64 {
	k0 := binary.LittleEndian.Uint64(k[0:])
	k1 := binary.LittleEndian.Uint64(k[8:])
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		round()
		round()
		v0 ^= m
		msg = msg[8:]
	}
	var last [8]byte
	copy(last[:], msg)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// tupleHash is SipHash of the 4-tuple and extra, under key.
func tupleHash(key *[16]byte, local, remote netip.AddrPort, extra uint32) uint64 {
	var b [16 + 16 + 4 + 4]byte
	la, ra := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:], la[:])
	copy(b[16:], ra[:])
	binary.BigEndian.PutUint16(b[32:], local.Port())
	binary.BigEndian.PutUint16(b[34:], remote.Port())
	binary.BigEndian.PutUint32(b[36:], extra)
	return sipHash24(key, b[:])
}

// isnClockTick is M's period, RFC 6528 §3 (RFC 9293 §3.4.1's 4 µs clock).
const isnClockTick = 4 * time.Microsecond

// isn returns the RFC 6528 initial sequence number for the 4-tuple at now.
func (s *Stack) isn(local, remote netip.AddrPort, now time.Time) uint32 {
	m := uint32(now.Sub(s.epoch) / isnClockTick)
	return m + s.isnBase + uint32(tupleHash(&s.cfg.ISNSecret, local, remote, 0))
}
