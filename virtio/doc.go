// Package virtio is the virtio 1.x driver core (OASIS virtio 1.2,
// https://docs.oasis-open.org/virtio/virtio/v1.2/virtio-v1.2.html): device
// status and feature negotiation (§2.1, §2.2, §3.1), split virtqueues with
// indirect descriptors and event-index notification suppression (§2.7), the
// MMIO transport (§4.2) and the modern PCI transport (§4.1).
//
// Hardware sits behind three narrow interfaces so that everything here runs
// on the host against a simulated device (package virtio/virtiosim): Regs
// (register windows), ConfigSpace (PCI configuration space) and DMA (bus
// addresses of driver memory).
//
// Why not tamago's kvm/virtio: it copies every buffer through a fixed
// per-descriptor DMA area (encoding descriptors with encoding/binary), has
// no indirect descriptors or event index, ties memory to its dma package
// and takes no stance against a misbehaving device. Damselfly's block layer
// hands the device the VM object's own pages as scatter-gather lists, keeps
// many requests in flight per queue, and must survive a hostile used ring,
// so the queue is written here: descriptors written in place, a
// driver-private shadow of every chain (the device can never make us walk
// a loop), used-ring entries validated before use.
//
// Byte order: virtio 1.x structures are little-endian; shared ring indices
// are accessed as aligned 32-bit atomics, which assumes a little-endian
// host (x86-64, the only target).
package virtio
