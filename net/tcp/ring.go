package tcp

import "damselfly/internal/chunkcopy"

// ring is the byte queue behind the send and receive buffers: a circular
// buffer that grows by doubling up to limit, so an idle or short-lived
// connection (the connection-rate case) does not pay for a full window of
// memory up front.
type ring struct {
	b     []byte
	head  int // index of the first byte
	n     int // bytes held
	limit int // most bytes it may hold
}

const ringMinAlloc = 4096

func (r *ring) len() int  { return r.n }
func (r *ring) free() int { return r.limit - r.n }

// grow makes room for need bytes in total.
func (r *ring) grow(need int) {
	if need <= len(r.b) {
		return
	}
	size := max(len(r.b), ringMinAlloc)
	for size < need {
		size *= 2
	}
	size = min(size, max(r.limit, need))
	nb := make([]byte, size)
	r.peek(0, nb[:r.n])
	r.b, r.head = nb, 0
}

// write appends as much of p as fits and returns the count.
func (r *ring) write(p []byte) int {
	k := min(len(p), r.free())
	if k <= 0 {
		return 0
	}
	r.grow(r.n + k)
	tail := (r.head + r.n) % len(r.b)
	c := chunkcopy.Copy(r.b[tail:], p[:k])
	chunkcopy.Copy(r.b, p[c:k])
	r.n += k
	return k
}

// peek copies bytes starting off bytes past the head into p and returns the
// count; it does not consume them.
func (r *ring) peek(off int, p []byte) int {
	if off >= r.n {
		return 0
	}
	k := min(len(p), r.n-off)
	start := (r.head + off) % max(len(r.b), 1)
	c := chunkcopy.Copy(p[:k], r.b[start:])
	chunkcopy.Copy(p[c:k], r.b)
	return k
}

// discard drops the first k bytes.
func (r *ring) discard(k int) {
	k = min(k, r.n)
	r.n -= k
	if r.n == 0 {
		r.head = 0
		return
	}
	r.head = (r.head + k) % len(r.b)
}

// read moves bytes from the head into p.
func (r *ring) read(p []byte) int {
	k := r.peek(0, p)
	r.discard(k)
	return k
}

// moveTo moves up to k bytes from the head of r to the tail of dst and
// returns the count: one copy, ring to ring (splice).
func (r *ring) moveTo(dst *ring, k int) int {
	k = min(k, r.n, dst.free())
	if k <= 0 {
		return 0
	}
	start := r.head % len(r.b)
	first := min(k, len(r.b)-start)
	dst.write(r.b[start : start+first])
	if first < k {
		dst.write(r.b[:k-first])
	}
	r.discard(k)
	return k
}
