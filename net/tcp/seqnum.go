package tcp

// Sequence-number arithmetic modulo 2^32, RFC 9293 §3.4. Comparisons hold
// as long as the two values are less than 2^31 apart, which the window
// limits (at most 2^30 with scaling, RFC 7323 §2.3) guarantee.

// seqLT reports a < b.
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// seqLEQ reports a <= b.
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

// seqGT reports a > b.
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }

// seqGEQ reports a >= b.
func seqGEQ(a, b uint32) bool { return int32(a-b) >= 0 }

// seqMax returns the later of a and b.
func seqMax(a, b uint32) uint32 {
	if seqGT(a, b) {
		return a
	}
	return b
}

// seqMin returns the earlier of a and b.
func seqMin(a, b uint32) uint32 {
	if seqLT(a, b) {
		return a
	}
	return b
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inWindow reports start <= s < start+size.
func inWindow(s, start uint32, size uint32) bool {
	return s-start < size
}
