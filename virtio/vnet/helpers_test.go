package vnet_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"damselfly/net/checksum"
	"damselfly/net/link"
	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
	"damselfly/virtio/vnet"
	"damselfly/virtio/vnet/vnetsim"
)

type rig struct {
	sim *vnetsim.Net
	drv *vnet.Device
	rx  chan rxd
	tx  chan []byte
}

type rxd struct {
	q   int
	f   []byte
	rss link.RSS
}

var simMAC = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

func newRig(t testing.TB, pci bool, so vnetsim.Options, vo vnet.Options) *rig {
	t.Helper()
	mem := virtiosim.NewMemory()
	if so.MAC == ([6]byte{}) {
		so.MAC = simMAC
	}
	sim := vnetsim.New(mem, so)
	var tr virtio.Transport
	var err error
	if pci {
		tr, err = virtio.NewPCI(virtiosim.NewPCI(sim.Device))
	} else {
		tr, err = virtio.NewMMIO(virtiosim.MMIO{D: sim.Device})
	}
	if err != nil {
		t.Fatal(err)
	}
	if vo.Queues == 0 {
		vo.Queues = 1
	}
	drv, err := vnet.New(tr, mem, vo)
	if err != nil {
		sim.Close()
		t.Fatal(err)
	}
	r := &rig{sim: sim, drv: drv, rx: make(chan rxd, 1<<14), tx: make(chan []byte, 1<<14)}
	for i := 0; i < drv.NumQueues(); i++ {
		drv.Queue(i).SetReceiver(func(f []byte, rss link.RSS) { r.rx <- rxd{i, f, rss} })
	}
	sim.SetSink(func(_ int, f []byte) { r.tx <- f })
	sim.SetInterrupt(drv.Interrupt)
	t.Cleanup(func() {
		drv.Close()
		sim.Close()
		if errs := sim.Errs(); len(errs) != 0 {
			t.Errorf("device saw driver errors: %v", errs)
		}
	})
	return r
}

// wait bounds every channel receive so a lost frame fails the test
// instead of hanging it (not a timing assertion).
const wait = 20 * time.Second

func (r *rig) recv(t testing.TB) rxd {
	t.Helper()
	select {
	case x := <-r.rx:
		return x
	case <-time.After(wait):
		t.Fatalf("no frame received; stats %+v", r.drv.Stats())
	}
	return rxd{}
}

func (r *rig) sent(t testing.TB) []byte {
	t.Helper()
	select {
	case f := <-r.tx:
		return f
	case <-time.After(wait):
		t.Fatalf("no frame transmitted; stats %+v", r.drv.Stats())
	}
	return nil
}

// send retries while the ring is full (the device drains it).
func send(t testing.TB, ep link.Endpoint, f []byte) {
	t.Helper()
	for {
		err := ep.Send(f)
		if err == nil {
			return
		}
		if !errors.Is(err, vnet.ErrTxFull) {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
}

// tcpFrame builds an Ethernet/IPv4/TCP frame with valid checksums.
func tcpFrame(src, dst netip.AddrPort, payload []byte) []byte {
	f := make([]byte, 14+20+20+len(payload))
	copy(f[0:6], simMAC[:])
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], 1)
	ip[8] = 64
	ip[9] = 6
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum.Checksum(ip[:20]))
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	tcp[12] = 5 << 4
	tcp[13] = 0x18
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(tcp[20:], payload)
	sum := checksum.PseudoHeader(src.Addr(), dst.Addr(), 6, 20+len(payload))
	binary.BigEndian.PutUint16(tcp[16:], checksum.Fold(checksum.Add(sum, tcp)))
	return f
}

// tcpValid checks the IPv4 header and TCP checksums of a frame.
func tcpValid(f []byte) error {
	if len(f) < 54 {
		return fmt.Errorf("frame of %d bytes", len(f))
	}
	ip := f[14:]
	if checksum.Checksum(ip[:20]) != 0 {
		return errors.New("bad IP checksum")
	}
	n := int(binary.BigEndian.Uint16(ip[2:]))
	if n > len(ip) {
		return fmt.Errorf("IP length %d in %d bytes", n, len(ip))
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	sum := checksum.PseudoHeader(src, dst, 6, n-20)
	if checksum.Fold(checksum.Add(sum, ip[20:n])) != 0 {
		return errors.New("bad TCP checksum")
	}
	return nil
}

// rawFrame is a non-IP frame of n bytes carrying a sequence number.
func rawFrame(seq, n int) []byte {
	f := make([]byte, n)
	copy(f[0:6], simMAC[:])
	binary.BigEndian.PutUint16(f[12:], 0x88b5) // local experimental EtherType
	if n >= 18 {
		binary.BigEndian.PutUint32(f[14:], uint32(seq))
	}
	for i := 18; i < n; i++ {
		f[i] = byte(seq + i)
	}
	return f
}

func pseudoSum(src, dst netip.Addr, n int) uint16 {
	s := checksum.PseudoHeader(src, dst, 6, n)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
