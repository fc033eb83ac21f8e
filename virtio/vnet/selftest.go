package vnet

// A self-test of a live device that needs no stack: the kernel runs it at
// boot (selftest=vnet) against QEMU's user networking, whose gateway
// (10.0.2.2) answers ARP. It exercises negotiation, transmit, the receive
// interrupt, the poll and the refill on the real device.

import (
	"fmt"
	"net/netip"
	"time"

	"damselfly/net/arp"
	"damselfly/net/ether"
	"damselfly/net/link"
)

// SelfTestResult is what SelfTest saw.
type SelfTestResult struct {
	PeerMAC  ether.MAC
	Requests int           // ARP requests sent
	RTT      time.Duration // from the last request to the reply
	Frames   int           // frames received meanwhile (the reply included)
}

// SelfTest asks peer for its MAC address by ARP from local, resending
// every interval until a reply arrives or timeout passes. Received frames
// go to it alone meanwhile (the receivers are put back afterwards): run it
// before the stack takes the device. now is the clock (time.Now when nil).
func SelfTest(d *Device, local, peer netip.Addr, interval, timeout time.Duration, now func() time.Time) (SelfTestResult, error) {
	var res SelfTestResult
	if now == nil {
		now = time.Now
	}
	type reply struct {
		mac ether.MAC
		at  time.Time
	}
	got := make(chan reply, 1)
	frames := make(chan struct{}, 1024)
	var recv link.Receiver = func(f []byte, _ link.RSS) {
		select {
		case frames <- struct{}{}:
		default:
		}
		if len(f) < ether.HeaderLen+arp.PacketLen || f[12] != 0x08 || f[13] != 0x06 {
			return
		}
		p, err := arp.Parse(f[ether.HeaderLen:])
		if err != nil || p.Op() != arp.OpReply || p.SenderIP() != peer || p.TargetIP() != local {
			return
		}
		select {
		case got <- reply{p.SenderMAC(), now()}:
		default:
		}
	}
	// Every pair's receiver, whatever was installed, until we return.
	for _, p := range d.pairs {
		prev := p.recv.Swap(&recv)
		defer p.recv.Store(prev)
	}
	start := now()
	var sent time.Time
	for now().Sub(start) < timeout {
		sent = now()
		if err := d.Send(arp.Frame(arp.OpRequest, d.MAC(), local, ether.MAC{}, peer)); err != nil {
			return res, fmt.Errorf("vnet: %s: self-test send: %w", d.name, err)
		}
		res.Requests++
		select {
		case r := <-got:
			res.PeerMAC, res.RTT = r.mac, r.at.Sub(sent)
			res.Frames = len(frames)
			return res, nil
		case <-time.After(interval):
		}
	}
	res.Frames = len(frames)
	return res, fmt.Errorf("vnet: %s: self-test: no ARP reply from %v after %d requests (%d frames received, stats %+v)",
		d.name, peer, res.Requests, res.Frames, d.Stats().Queues[0])
}
