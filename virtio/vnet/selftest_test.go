package vnet_test

import (
	"net/netip"
	"testing"
	"time"

	"damselfly/net/ether"
	"damselfly/net/stack"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

// SelfTest against a peer stack that answers ARP (as QEMU's gateway does),
// and its failure against a wire nobody listens on.
func TestSelfTest(t *testing.T) {
	r := newRig(t, true, vnetsim.Options{}, vnet.Options{})
	peerMAC := ether.MAC{2, 0, 0, 0, 0, 2}
	peer, err := stack.New(stack.Config{Link: r.sim.Wire(peerMAC, 1500), Addr: netip.MustParsePrefix("10.0.2.2/24"), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	res, err := vnet.SelfTest(r.drv, netip.MustParseAddr("10.0.2.15"), netip.MustParseAddr("10.0.2.2"), time.Second, wait, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.PeerMAC != peerMAC || res.Requests < 1 || res.Frames < 1 {
		t.Fatalf("result %+v", res)
	}

	r2 := newRig(t, false, vnetsim.Options{}, vnet.Options{})
	r2.sim.SetSink(func(int, []byte) {})
	// A fake clock that moves a second per reading: the test never waits.
	var clock time.Time
	fake := func() time.Time { clock = clock.Add(time.Second); return clock }
	if _, err := vnet.SelfTest(r2.drv, netip.MustParseAddr("10.0.2.15"), netip.MustParseAddr("10.0.2.2"), time.Millisecond, 5*time.Second, fake); err == nil {
		t.Fatal("self-test passed with nobody on the wire")
	}
}
