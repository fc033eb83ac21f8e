package stack

// Received frames go back to the link when TCP is done with them. A link
// that assembles large frames into buffers of its own (virtio-net with
// GUEST_TSO4: up to 64 KiB each) can reuse those buffers instead of
// allocating one per frame; at streaming rates that garbage is what the
// collector spends its time on. TCP copies every payload byte into its
// receive buffer (or its out-of-order queue) and keeps no reference
// (tcp.Stack.Deliver), so a frame whose datagram went to TCP, in one
// piece and on the thread that received it, is handed back; a frame that
// was reassembled from fragments, passed to another thread, or given to
// UDP, ICMP or ARP is not.

// rxRecycler is a link that takes back received frames: vnet.Device.
type rxRecycler interface {
	RecycleRx(frame []byte)
}

// recycleRx hands the frame being processed back to the link, if the
// link wants it and no path has claimed it; thread only.
func (p *proto) recycleRx() {
	if p.rxFrame == nil {
		return
	}
	if p.recycler != nil {
		p.recycler.RecycleRx(p.rxFrame)
		p.ctr.rxRecycled++
	}
	p.rxFrame = nil
}
