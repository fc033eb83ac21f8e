//go:build tamago

package devices

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"time"

	"damselfly/board"
	"damselfly/board/microvm"
	"damselfly/kernel"
	"damselfly/net/stack"
	"damselfly/sched"
	"damselfly/virtio"
	"damselfly/virtio/vnet"
)

// netPollInterval is how often the virtio-net receive queues are polled
// while idle when the device's interrupt could not be routed (a kick from
// the driver's Schedule hook starts a round at once either way).
const netPollInterval = 200 * time.Microsecond

// StartNetwork brings up the first virtio-net device and the stack on it:
// one protocol thread per CPU as LWKT threads of sys, the address from ip=
// (DHCP by default), the partition from netpart= (default: toeplitz when the
// device hashes, ports otherwise). It routes the standard library's
// net.Listen and net.Dial to the stack, so net/http runs on it unchanged.
func StartNetwork(cfg board.Config, sys *sched.System, ncpu int) (*stack.Stack, *vnet.Device, error) {
	var dev *vnet.Device
	for _, s := range VirtioSlots() {
		if s.DeviceID != virtio.DeviceNet {
			continue
		}
		tr, err := virtio.NewMMIO(s.Regs)
		if err != nil {
			return nil, nil, fmt.Errorf("virtio-net at %#x: %w", s.Addr, err)
		}
		kicks, schedule := queueKicks(ncpu)
		d, err := vnet.New(tr, virtio.IdentityDMA{}, vnet.Options{Name: "vtnet0", Queues: ncpu, Schedule: schedule})
		if err != nil {
			return nil, nil, fmt.Errorf("virtio-net at %#x: %w", s.Addr, err)
		}
		microvm.Mark("vtnet0: virtio-net driver")
		// With the interrupt routed, the NAPI state machine (vnet/napi.go)
		// schedules each queue's poller from the interrupt, and a slow
		// rescue poll remains (irq.go); without it the pollers run on a
		// fast timer.
		interval := rescuePollInterval
		if _, err := wireMMIOIRQ("vtnet0", s.Addr, d.Interrupt); err != nil {
			kernel.Klog.Warnf("%v: polling the device instead", err)
			interval = netPollInterval
		}
		for q := 0; q < d.NumQueues(); q++ {
			go pollQueue(d, q, kicks[q%len(kicks)], interval)
		}
		dev = d
		break
	}
	if dev == nil {
		// Then the virtio-net-pci functions (pci.go).
		d, err := startPCINet(ncpu)
		if err != nil {
			return nil, nil, err
		}
		dev = d
	}
	if dev == nil {
		return nil, nil, errors.New("no virtio-net device (attach one: -netdev user,id=n0 -device virtio-net-device,netdev=n0 on microvm, virtio-net-pci on q35/pc)")
	}
	scfg := stack.Config{Link: dev, Threads: ncpu, Loops: stack.SchedLoops(sys), DNS: cfg.DNS}
	if hasOption(microvm.M.Boot.Cmdline, "netpart") {
		p, err := stack.PartitionByName(cfg.NetPart.String())
		if err != nil {
			return nil, nil, err
		}
		scfg.Partition = p
	}
	switch cfg.IP.Mode {
	case board.IPStatic:
		scfg.Addr, scfg.Gateway = cfg.IP.Addr, cfg.IP.Gateway
	default: // ip=dhcp, and no ip= at all
		scfg.DHCP = true
	}
	microvm.Mark("vtnet0: interrupt and pollers")
	st, err := stack.New(scfg)
	if err != nil {
		return nil, nil, fmt.Errorf("network stack: %w", err)
	}
	microvm.Mark("network stack")
	select {
	case <-st.Ready():
	case <-time.After(30 * time.Second):
		return nil, nil, errors.New("no address after 30 s of DHCP (boot with ip=<addr>/<len>,gw=<addr>)")
	}
	microvm.Mark("address ready")
	st.Announce()
	net.ListenFunc = func(ctx context.Context, network, address string) (net.Listener, error) {
		return st.Listen(network, address)
	}
	net.DialFunc = st.Dial
	return st, dev, nil
}

// queueKicks returns one kick channel per CPU and the driver's Schedule
// hook, which kicks queue q's poller (pollQueue) without blocking.
func queueKicks(ncpu int) ([]chan struct{}, func(q int)) {
	kicks := make([]chan struct{}, ncpu)
	for i := range kicks {
		kicks[i] = make(chan struct{}, 1)
	}
	return kicks, func(q int) {
		select {
		case kicks[q%len(kicks)] <- struct{}{}:
		default:
		}
	}
}

// pollQueue runs receive rounds on one queue pair: when the driver asks
// (kick: the interrupt, or a refill), and every interval if interval > 0.
func pollQueue(d *vnet.Device, q int, kick <-chan struct{}, interval time.Duration) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		for d.Poll(q) {
			runtime.Gosched()
		}
		select {
		case <-kick:
		case <-tick:
		}
	}
}

func hasOption(cmdline, key string) bool {
	for _, w := range strings.Fields(cmdline) {
		if strings.HasPrefix(w, key+"=") {
			return true
		}
	}
	return false
}

// PartName names the stack's partition function as netpart= does.
func PartName(st *stack.Stack) string {
	if _, ok := st.Partition().(stack.Toeplitz); ok {
		return "toeplitz"
	}
	return "ports"
}
