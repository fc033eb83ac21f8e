package vnetsim

import (
	"sync/atomic"

	"damselfly/net/ether"
	"damselfly/net/link"
)

// Wire is the other end of the device's cable, as a link.Endpoint: what
// it sends arrives at the driver through RSS steering, and what the driver
// transmits (after offloads) is given to its receiver. A second stack on a
// Wire is the driver's peer in end-to-end tests.
type Wire struct {
	n    *Net
	mac  ether.MAC
	mtu  int
	recv atomic.Pointer[link.Receiver]
}

// Wire attaches a peer endpoint with the given MAC; it replaces the sink.
func (n *Net) Wire(mac ether.MAC, mtu int) *Wire {
	w := &Wire{n: n, mac: mac, mtu: mtu}
	n.SetSink(func(_ int, f []byte) {
		if r := w.recv.Load(); r != nil {
			(*r)(f, link.RSS{})
		}
	})
	return w
}

func (w *Wire) MTU() int                    { return w.mtu }
func (w *Wire) MAC() ether.MAC              { return w.mac }
func (w *Wire) SetReceiver(r link.Receiver) { w.recv.Store(&r) }
func (w *Wire) Close() error                { return nil }

// Send delivers frame to the driver.
func (w *Wire) Send(frame []byte) error {
	w.n.Receive(frame)
	return nil
}
