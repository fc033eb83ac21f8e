// LZ4 block format: the decoder, and the format's constants shared with the
// compressor (lz4_optimal.go) and the boot stub (stub/lz4.c).
//
// A block is a sequence of sequences. Each sequence is a token byte (high
// nibble: literal count, low nibble: match length - 4), 255-valued extension
// bytes after a nibble of 15, the literals, a 2-byte little-endian offset
// (1..65535 back from the current output position) and the match length's
// extension bytes. The last sequence has literals only. The reference
// description is lz4's doc/lz4_Block_format.md; its end-of-block rules (the
// last 5 bytes are literals, the last match starts at least 12 bytes before
// the end) let fast decoders copy in wide words, so the compressor keeps them
// although our own decoders do not need them.
//
// The decoder here is the host's reference for the stub's: both refuse a
// block instead of reading or writing outside their buffers, and both
// require the output to come out at exactly its recorded size.

package pack

import (
	"errors"
	"fmt"
)

const (
	minMatch    = 4     // shortest match the format can express
	maxOffset   = 65535 // farthest match distance (2-byte offset)
	lastLits    = 5     // the block ends with at least this many literals
	matchLimit  = 12    // no match may start in the last matchLimit bytes
	nibbleMax   = 15    // a nibble of 15 is followed by extension bytes
	extByteMax  = 255   // an extension byte of 255 is followed by another
	tokenLitSft = 4     // literal count in the token's high nibble
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("lz4: corrupt block")

// Decode decompresses the block src into dst, which must be exactly the
// decompressed size: a block that would produce more or fewer bytes, read
// past its end or copy from before the start of dst is refused.
func Decode(dst, src []byte) error {
	var si, di int
	for {
		if si >= len(src) {
			return fmt.Errorf("%w: missing token at input offset %d", ErrCorrupt, si)
		}
		token := src[si]
		si++

		// literals
		n := int(token >> tokenLitSft)
		if n == nibbleMax {
			var err error
			if n, si, err = readLength(src, si, n); err != nil {
				return err
			}
		}
		if n > len(src)-si {
			return fmt.Errorf("%w: %d literals at input offset %d, %d bytes left", ErrCorrupt, n, si, len(src)-si)
		}
		if n > len(dst)-di {
			return fmt.Errorf("%w: %d literals at output offset %d overflow %d bytes", ErrCorrupt, n, di, len(dst))
		}
		copy(dst[di:], src[si:si+n])
		si += n
		di += n
		if si == len(src) {
			break // the last sequence: literals only
		}

		// match
		if len(src)-si < 2 {
			return fmt.Errorf("%w: truncated offset at input offset %d", ErrCorrupt, si)
		}
		off := int(src[si]) | int(src[si+1])<<8
		si += 2
		if off == 0 || off > di {
			return fmt.Errorf("%w: match offset %d at output offset %d", ErrCorrupt, off, di)
		}
		m := int(token & nibbleMax)
		if m == nibbleMax {
			var err error
			if m, si, err = readLength(src, si, m); err != nil {
				return err
			}
		}
		m += minMatch
		if m > len(dst)-di {
			return fmt.Errorf("%w: match of %d at output offset %d overflows %d bytes", ErrCorrupt, m, di, len(dst))
		}
		// Forward byte order matters when off < m: the copy reads bytes
		// it has just written, which is how runs are encoded.
		if off >= m {
			copy(dst[di:di+m], dst[di-off:])
		} else {
			for k := 0; k < m; k++ {
				dst[di+k] = dst[di-off+k]
			}
		}
		di += m
	}
	if di != len(dst) {
		return fmt.Errorf("%w: %d bytes decoded, want %d", ErrCorrupt, di, len(dst))
	}
	return nil
}

// readLength adds the extension bytes at src[si:] to n. The total is
// bounded by the input: each byte adds at most 255, so a length cannot grow
// past 255*len(src) and never overflows int.
func readLength(src []byte, si, n int) (int, int, error) {
	for {
		if si >= len(src) {
			return 0, si, fmt.Errorf("%w: truncated length at input offset %d", ErrCorrupt, si)
		}
		b := src[si]
		si++
		n += int(b)
		if b != extByteMax {
			return n, si, nil
		}
	}
}
