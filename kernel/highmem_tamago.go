//go:build tamago && amd64

package kernel

import (
	"errors"
	"fmt"
	"unsafe"

	"damselfly/board/microvm"
)

func init() { RegisterSelfTest("highmem", highMemSelfTest) }

// highMemChunk is the highmem self-test's allocation size: a large object,
// so each is a span of its own taken straight from the heap's free pages.
const highMemChunk = 64 << 20

// highMemSelfTest checks that the heap uses the RAM given to it beside its
// own block (microvm.M.HeapExtra; on QEMU the RAM above the 4 GiB hole): it
// allocates chunks, keeping them live, until one lies in that RAM or the
// heap's size has been allocated, then writes a pattern over that chunk and
// reads it back. Only that chunk is touched, so the host backs little of
// the rest.
func highMemSelfTest(t *T) error {
	m := &microvm.M
	if len(m.HeapExtra) == 0 {
		return errors.New("no RAM beside the heap's own block (boot with more than 4 GiB)")
	}
	inExtra := func(a uint64) bool {
		for _, r := range m.HeapExtra {
			if a >= r.Start && a+highMemChunk <= r.End {
				return true
			}
		}
		return false
	}
	var live [][]byte
	for total := uint64(0); total < m.HeapSize(); total += highMemChunk {
		b := make([]byte, highMemChunk)
		live = append(live, b)
		a := uint64(uintptr(unsafe.Pointer(&b[0])))
		if !inExtra(a) {
			continue
		}
		w := unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
		for i := range w {
			if w[i] != 0 {
				return fmt.Errorf("chunk at %#x: word %d reads %#x before any write", a, i, w[i])
			}
			w[i] = a + uint64(i)
		}
		for i := range w {
			if w[i] != a+uint64(i) {
				return fmt.Errorf("chunk at %#x: word %d reads %#x, wrote %#x", a, i, w[i], a+uint64(i))
			}
		}
		t.Logf("highmem: chunk %d of %d MiB at %#x, in the heap's extra RAM %v: written and read back",
			len(live), highMemChunk>>20, a, m.HeapExtra)
		return nil
	}
	return fmt.Errorf("%d MiB allocated in %d chunks, none in the extra RAM %v", uint64(len(live))*highMemChunk>>20, len(live), m.HeapExtra)
}
