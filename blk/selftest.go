package blk

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
)

// Self-test shapes: chunk sizes and the reorder window. Reads are issued in
// random order within each window (the window bounds the memory held for
// hashing the disk in order).
const (
	selfTestMinChunk = 4 << 10
	selfTestMaxChunk = 1 << 20
	selfTestWindow   = 32 << 20
)

type span struct{ off, n int64 }

// SelfTest is the guest's `selftest=blk`: it reads the whole disk through
// the disk's VM object in randomly sized chunks (4 KiB to 1 MiB, multiples
// of the sector size) in random order on threads goroutines, and returns
// the SHA-256 and byte count of the disk as it was; then it copies the
// first half of the disk onto the second half (with an odd number of
// sectors the last sector stays as it was) and syncs the object to the
// device.
func SelfTest(d *Disk, threads int, rng *rand.Rand) (sum [sha256.Size]byte, n int64, err error) {
	if threads < 1 {
		threads = 1
	}
	size := d.Size()
	// 512-byte sectors whatever the device's granule: the halves are
	// defined that way, and object I/O needs no alignment.
	const ss = 512
	var chunks []span
	for off := int64(0); off < size; {
		c := selfTestMinChunk + rng.Int64N(selfTestMaxChunk-selfTestMinChunk+1)
		c = max(c/ss*ss, ss)
		c = min(c, size-off)
		chunks = append(chunks, span{off, c})
		off += c
	}
	obj := d.Object()
	h := sha256.New()
	for len(chunks) > 0 {
		var win []span
		var bytes int64
		for len(chunks) > 0 && (len(win) == 0 || bytes+chunks[0].n <= selfTestWindow) {
			win = append(win, chunks[0])
			bytes += chunks[0].n
			chunks = chunks[1:]
		}
		order := rng.Perm(len(win))
		bufs := make([][]byte, len(win))
		err := Parallel(threads, len(win), func(_, k int) error {
			i := order[k]
			b := make([]byte, win[i].n)
			if _, err := obj.ReadAt(b, win[i].off); err != nil {
				return err
			}
			bufs[i] = b
			return nil
		})
		if err != nil {
			return sum, n, fmt.Errorf("blk: selftest %s: read: %w", d.Name(), err)
		}
		for _, b := range bufs {
			h.Write(b)
			n += int64(len(b))
		}
	}
	h.Sum(sum[:0])

	half := size / ss / 2 * ss
	pieces := int((half + selfTestMaxChunk - 1) / selfTestMaxChunk)
	err = Parallel(threads, pieces, func(_, k int) error {
		off := int64(k) * selfTestMaxChunk
		b := make([]byte, min(selfTestMaxChunk, half-off))
		if _, err := obj.ReadAt(b, off); err != nil {
			return err
		}
		if _, err := obj.WriteAt(b, half+off); err != nil {
			return err
		}
		// Write the piece back now, as one request, rather than leave the
		// evictor to write it a page at a time under pressure.
		return obj.SyncRange(half+off, int64(len(b)))
	})
	if err != nil {
		return sum, n, fmt.Errorf("blk: selftest %s: copy: %w", d.Name(), err)
	}
	if err := obj.Sync(); err != nil {
		return sum, n, fmt.Errorf("blk: selftest %s: sync: %w", d.Name(), err)
	}
	return sum, n, nil
}

// RunSelfTest runs SelfTest and prints the lines the QEMU boot tests look
// for: "blk: sha256=<hex> bytes=<n>" and then "selftest blk: ok" (or
// "selftest blk: FAIL: <reason>").
func RunSelfTest(w io.Writer, d *Disk, threads int, rng *rand.Rand) error {
	sum, n, err := SelfTest(d, threads, rng)
	if err == nil {
		fmt.Fprintf(w, "blk: sha256=%x bytes=%d\n", sum, n)
		fmt.Fprintf(w, "selftest blk: ok\n")
		return nil
	}
	fmt.Fprintf(w, "selftest blk: FAIL: %v\n", err)
	return err
}
