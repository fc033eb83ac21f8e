package kernel

import (
	"fmt"
	"runtime"
	"unsafe"
)

func init() { RegisterSelfTest("memzero", memZeroSelfTest) }

// memZeroSize is how much the memzero self-test allocates: enough to grow a
// freshly booted heap, so that most of it is memory the runtime never used.
const memZeroSize, memZeroChunk = 64 << 20, 1 << 20

// memZeroPattern is what the self-test leaves in the memory it checked, so
// that a warm boot that did not clear it fails the same test.
const memZeroPattern = 0xa5a5a5a5a5a5a5a5

// memZeroSelfTest checks the runtime's assumption that memory it has not used
// reads zero: it allocates memZeroSize in chunks, requires every byte to be
// zero, then fills them with memZeroPattern before dropping them (the runtime
// zeroes memory it reuses, so the pattern only shows after a reset that left
// RAM as it was: microvm.WarmBoot).
func memZeroSelfTest(t *T) error {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := checkZeroThenFill(func(size int) []byte { return make([]byte, size) }, memZeroSize, memZeroChunk)
	runtime.ReadMemStats(&after)
	t.Logf("memzero: %d MiB in %d KiB chunks, heap grew %d MiB (to %d MiB)", memZeroSize>>20, memZeroChunk>>10,
		(after.HeapSys-before.HeapSys)>>20, after.HeapSys>>20)
	if err != nil {
		return err
	}
	if n != memZeroSize {
		return fmt.Errorf("checked %d bytes, want %d", n, memZeroSize)
	}
	return nil
}

// checkZeroThenFill allocates total bytes as chunks from alloc (each a
// multiple of 8 bytes), keeps all of them live, fails if any word is not
// zero, then fills every chunk with memZeroPattern. It returns the bytes
// checked.
func checkZeroThenFill(alloc func(int) []byte, total, chunk int) (int, error) {
	if chunk <= 0 || chunk%8 != 0 {
		return 0, fmt.Errorf("memzero: chunk size %d is not a positive multiple of 8", chunk)
	}
	var chunks [][]uint64
	checked, dirty, first := 0, 0, -1
	for checked < total {
		b := alloc(chunk)
		if len(b) != chunk {
			return checked, fmt.Errorf("memzero: allocator returned %d bytes, want %d", len(b), chunk)
		}
		w := unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), chunk/8)
		for i, v := range w {
			if v != 0 {
				if first < 0 {
					first = checked + 8*i
				}
				dirty++
			}
		}
		chunks = append(chunks, w)
		checked += chunk
	}
	for _, w := range chunks {
		for i := range w {
			w[i] = memZeroPattern
		}
	}
	if dirty > 0 {
		return checked, fmt.Errorf("memzero: %d of %d words not zero in fresh allocations (first at byte %d)", dirty, checked/8, first)
	}
	return checked, nil
}
