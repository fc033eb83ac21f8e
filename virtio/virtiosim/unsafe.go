package virtiosim

import "unsafe"

func unsafeBytes(w []uint64, n int) []byte {
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}
