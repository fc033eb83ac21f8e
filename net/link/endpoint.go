// Package link is the boundary between the protocol stack and a network
// device: an Endpoint sends and receives whole Ethernet frames. Devices
// here are an in-memory pipe pair with clock-driven impairments (loss,
// delay, reordering, duplication, corruption) for tests, and a Linux tap
// device for running the stack as a host process.
package link

import (
	"errors"

	"damselfly/net/ether"
)

// RSS is what a device tells the stack about a received frame besides its
// bytes: the receive-side-scaling hash it computed (Toeplitz over the
// IPv4/TCP 4-tuple, Microsoft RSS spec), so the stack can steer the frame
// to its owning CPU without touching it, and whether it checked the
// frame's TCP/UDP checksum.
type RSS struct {
	Hash  uint32
	Valid bool // Hash is set
	// ChecksumValid: the device verified the frame's TCP or UDP checksum
	// (virtio VIRTIO_NET_HDR_F_DATA_VALID), or the frame came from a
	// trusted local sender with a checksum left partial and finished by
	// the driver (F_NEEDS_CSUM): the stack need not verify it again. The
	// IPv4 header checksum is always verified by the stack.
	ChecksumValid bool
}

// Receiver takes a received frame. The frame's memory belongs to the
// receiver from then on: endpoints hand over a fresh buffer each time, so
// the frame may be queued to another thread without copying. Receivers
// must not block; they queue and return.
type Receiver func(frame []byte, rss RSS)

// QueueReceiver takes a received frame with the index of the device queue it
// arrived on.
type QueueReceiver func(queue int, frame []byte, rss RSS)

// Multiqueue is implemented by devices with several receive queues, queue i
// belonging to CPU i (mod the number of CPUs). A stack that installs a
// QueueReceiver knows on which CPU each frame arrived, so it can count the
// frames it must hand to another CPU's protocol thread. It replaces
// SetReceiver's receiver on every queue.
type Multiqueue interface {
	SetQueueReceiver(QueueReceiver)
}

// Endpoint is a network device seen from the stack.
type Endpoint interface {
	// MTU is the largest IP datagram the link carries (not counting the
	// Ethernet header).
	MTU() int
	// MAC is the device's hardware address.
	MAC() ether.MAC
	// Send transmits a complete Ethernet frame. The endpoint does not
	// keep frame after returning. Safe for concurrent use.
	Send(frame []byte) error
	// SetReceiver installs the function given each received frame; it
	// must be called before frames flow.
	SetReceiver(Receiver)
	// Close stops the device; Send fails afterwards.
	Close() error
}

// RSSKeyed is implemented by endpoints that compute an RSS hash on
// receive; RSSKey returns the Toeplitz key in use.
type RSSKeyed interface {
	RSSKey() []byte
}

// ErrClosed is returned by Send on a closed endpoint.
var ErrClosed = errors.New("link: endpoint closed")
