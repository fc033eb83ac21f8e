//go:build tamago

package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path"
	"runtime"
	"strings"
	"time"

	"damselfly/apps/httpd"
	"damselfly/board"
	"damselfly/board/microvm"
	"damselfly/kernel"
	"damselfly/net/stack"
	"damselfly/sched"
	"damselfly/vfs"
	"damselfly/vfs/embedfs"
	"damselfly/vfs/ext2"
	"damselfly/vfs/rootfs"
	"damselfly/virtio"
	"damselfly/virtio/vnet"
)

//go:embed welcome
var welcomeSite embed.FS

// netPollInterval is how often the virtio-net receive queues are polled
// while idle: the device's interrupt is not routed yet, so the driver runs
// in polling mode (a kick from the driver's Schedule hook starts a round at
// once).
const netPollInterval = 200 * time.Microsecond

// appliance is the default application: the HTTP file server on port 80,
// TCP echo on 7 and discard on 9, over Damselfly's TCP/IP stack on the first
// virtio-net device, serving the root filesystem (the ext2 disk that root=
// names, else the built-in welcome site).
func appliance(ctx context.Context) {
	if err := runAppliance(ctx); err != nil {
		kernel.Klog.Errorf("appliance: %v", err)
	}
}

func runAppliance(ctx context.Context) error {
	cfg := kernel.Config
	ncpu := runtime.GOMAXPROCS(0)
	sys := sched.NewSystem(ncpu, sched.Options{})
	sys.Start()

	root, writer, err := mountRoot(cfg)
	if err != nil {
		return err
	}
	kernel.OnShutdown("filesystems", func() error {
		if err := root.Sync(); err != nil {
			return err
		}
		return root.Close()
	})

	st, dev, err := startNetwork(cfg, sys, ncpu)
	if err != nil {
		return err
	}
	net.ListenFunc = func(ctx context.Context, network, address string) (net.Listener, error) {
		return st.Listen(network, address)
	}
	net.DialFunc = st.Dial

	srv := httpd.New(httpd.Config{
		Files:  root.FS(),
		Writer: writer,
		Name:   "damselfly",
		Status: func() any { return kernelStatus(sys, st, dev) },
	})
	var echo, discard httpd.StreamStats
	for _, svc := range []struct {
		port  int
		serve func(net.Listener) error
	}{
		{80, func(l net.Listener) error { return (&http.Server{Handler: srv}).Serve(l) }},
		{httpd.EchoPort, func(l net.Listener) error { return httpd.ServeEcho(l, &echo) }},
		{httpd.DiscardPort, func(l net.Listener) error { return httpd.ServeDiscard(l, &discard) }},
	} {
		l, err := st.Listen("tcp", fmt.Sprintf(":%d", svc.port))
		if err != nil {
			return fmt.Errorf("listen on port %d: %w", svc.port, err)
		}
		go func() {
			if err := svc.serve(l); err != nil {
				kernel.Klog.Errorf("appliance: port %d: %v", svc.port, err)
			}
		}()
	}
	kernel.Klog.Infof("appliance: serving http://%s/ (echo :7, discard :9, netpart %s)", st.Addr(), partName(st))
	fmt.Printf("damselfly: appliance up addr=%s\n", st.Addr())
	<-ctx.Done()
	return nil
}

// mountRoot mounts the root the command line names, or the welcome site.
// PUT and DELETE are enabled only on a disk mounted rw.
func mountRoot(cfg board.Config) (*vfs.VFS, httpd.Writer, error) {
	if cfg.Root == "" {
		site, err := fs.Sub(welcomeSite, "welcome")
		if err != nil {
			return nil, nil, err
		}
		v := vfs.New(embedfs.New(site, embedfs.Options{}), vfs.MountOptions{ReadOnly: true}, vfs.Config{})
		return v, nil, nil
	}
	root := "/dev/" + strings.TrimPrefix(cfg.Root, "/dev/")
	v, err := rootfs.Mount(rootfs.Config{Root: root, ReadOnly: cfg.ReadOnly}, func(name string) (ext2.Device, error) {
		disk, err := openDisk(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
		}
		return ext2.VMDevice{Obj: disk.Object()}, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("mount root %s: %w", root, err)
	}
	if cfg.ReadOnly {
		return v, nil, nil
	}
	return v, vfsWriter{v}, nil
}

// vfsWriter lets the HTTP server change the root filesystem.
type vfsWriter struct{ v *vfs.VFS }

func (w vfsWriter) WriteFile(name string, r io.Reader) (int64, error) {
	if dir := path.Dir(name); dir != "." {
		if err := w.v.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
	}
	f, err := w.v.Create(name)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func (w vfsWriter) Remove(name string) error { return w.v.Remove(name) }
func (w vfsWriter) Sync() error              { return w.v.Sync() }

// startNetwork brings up the first virtio-net device and the stack on it:
// one protocol thread per CPU as LWKT threads, the address from ip= (DHCP
// by default).
func startNetwork(cfg board.Config, sys *sched.System, ncpu int) (*stack.Stack, *vnet.Device, error) {
	var dev *vnet.Device
	for _, s := range virtioSlots() {
		if s.DeviceID != virtio.DeviceNet {
			continue
		}
		tr, err := virtio.NewMMIO(s.Regs)
		if err != nil {
			return nil, nil, fmt.Errorf("virtio-net at %#x: %w", s.Addr, err)
		}
		kicks := make([]chan struct{}, ncpu)
		for i := range kicks {
			kicks[i] = make(chan struct{}, 1)
		}
		d, err := vnet.New(tr, virtio.IdentityDMA{}, vnet.Options{Name: "vtnet0", Queues: ncpu,
			Schedule: func(q int) {
				select {
				case kicks[q%len(kicks)] <- struct{}{}:
				default:
				}
			}})
		if err != nil {
			return nil, nil, fmt.Errorf("virtio-net at %#x: %w", s.Addr, err)
		}
		for q := 0; q < d.NumQueues(); q++ {
			go pollQueue(d, q, kicks[q%len(kicks)])
		}
		dev = d
		break
	}
	if dev == nil {
		return nil, nil, errors.New("no virtio-net device (attach one: -netdev user,id=n0 -device virtio-net-device,netdev=n0)")
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
	st, err := stack.New(scfg)
	if err != nil {
		return nil, nil, fmt.Errorf("network stack: %w", err)
	}
	select {
	case <-st.Ready():
	case <-time.After(30 * time.Second):
		return nil, nil, errors.New("no address after 30 s of DHCP (boot with ip=<addr>/<len>,gw=<addr>)")
	}
	st.Announce()
	return st, dev, nil
}

// pollQueue runs receive rounds on one queue pair: at once when the driver
// asks (kick), else every netPollInterval.
func pollQueue(d *vnet.Device, q int, kick <-chan struct{}) {
	t := time.NewTicker(netPollInterval)
	defer t.Stop()
	for {
		for d.Poll(q) {
			runtime.Gosched()
		}
		select {
		case <-kick:
		case <-t.C:
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

func partName(st *stack.Stack) string {
	if _, ok := st.Partition().(stack.Toeplitz); ok {
		return "toeplitz"
	}
	return "ports"
}

// tcpConn is one entry of "tcp_connections" in /status.json.
type tcpConn struct {
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`
	CPU    int    `json:"cpu"`
}

// kernelStatus is the "kernel" member of /status.json.
func kernelStatus(sys *sched.System, st *stack.Stack, dev *vnet.Device) any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ss := sys.Stats()
	conns := []tcpConn{}
	for cpu, list := range st.Connections() {
		for _, c := range list {
			conns = append(conns, tcpConn{Local: c.Local.String(), Remote: c.Remote.String(), State: c.State, CPU: cpu})
		}
	}
	ns := st.Stats()
	perThread := make([]map[string]any, len(ns.Threads))
	for i, t := range ns.Threads {
		perThread[i] = map[string]any{
			"thread": t.Thread, "frames_in": t.FramesIn, "frames_out": t.FramesOut,
			"hops_in": t.HopsIn, "hops_out": t.HopsOut, "checksum_errors": t.ChecksumErrors,
			"drops": t.Drops, "tcp": t.TCP,
		}
	}
	return map[string]any{
		"uptime_ms":       microvm.Since().Milliseconds(),
		"cpus":            sys.NCPU(),
		"sched":           ss,
		"ipis":            ss.IPI,
		"netpart":         partName(st),
		"addr":            netip.AddrPortFrom(st.Addr(), 80).String(),
		"net_threads":     perThread,
		"net_device":      dev.Stats(),
		"tcp_connections": conns,
		"memory": map[string]uint64{
			"heap_alloc": ms.HeapAlloc, "heap_sys": ms.HeapSys, "sys": ms.Sys,
		},
	}
}
