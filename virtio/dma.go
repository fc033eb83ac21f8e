package virtio

import "unsafe"

// DMA gives the device access to driver memory. Alloc returns zeroed memory
// for rings (aligned to align bytes) with its bus address; Map returns the
// bus address of a buffer the driver hands to the device, which must stay
// live until Unmap.
type DMA interface {
	Alloc(size, align int) (buf []byte, addr uint64)
	Map(b []byte) uint64
	Unmap(addr uint64)
}

// IdentityDMA is DMA for a guest whose physical memory is identity mapped
// and not behind an IOMMU (Damselfly on KVM): the bus address of Go memory
// is its address. The Go heap does not move objects; buffers are kept
// referenced by the queue until the device returns them.
type IdentityDMA struct{}

func (IdentityDMA) Alloc(size, align int) ([]byte, uint64) {
	if align < 1 {
		align = 1
	}
	raw := make([]byte, size+align)
	a := uintptr(unsafe.Pointer(&raw[0]))
	skip := int((uintptr(align) - a%uintptr(align)) % uintptr(align))
	b := raw[skip : skip+size : skip+size]
	return b, uint64(uintptr(unsafe.Pointer(&b[0])))
}

func (IdentityDMA) Map(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

func (IdentityDMA) Unmap(uint64) {}
