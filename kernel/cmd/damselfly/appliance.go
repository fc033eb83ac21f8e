//go:build tamago

package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path"
	"runtime"

	"damselfly/apps/httpd"
	"damselfly/board/microvm"
	"damselfly/kernel"
	"damselfly/kernel/devices"
	"damselfly/net/stack"
	"damselfly/sched"
	"damselfly/vfs"
	"damselfly/virtio/vnet"
)

//go:embed welcome
var welcomeSite embed.FS

// welcome is the built-in site served when no root disk is given.
func welcome() fs.FS {
	site, err := fs.Sub(welcomeSite, "welcome")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return site
}

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
	sys := sched.NewSystem(ncpu, kernel.SchedOptions())
	sys.Start()
	kernel.Sched.Store(sys) // the shell's threads and stats show it

	root, writable, err := devices.MountRoot(cfg, welcome())
	if err != nil {
		return err
	}
	var writer httpd.Writer
	if writable {
		writer = vfsWriter{root}
	}
	kernel.OnShutdown("filesystems", func() error {
		if err := root.Sync(); err != nil {
			return err
		}
		return root.Close()
	})

	st, dev, err := devices.StartNetwork(cfg, sys, ncpu)
	if err != nil {
		return err
	}

	srv := httpd.New(httpd.Config{
		Files:  root.FS(),
		Writer: writer,
		Name:   "damselfly",
		Status: func() any { return kernelStatus(sys, st, dev, root) },
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
	kernel.Klog.Infof("appliance: serving http://%s/ (echo :7, discard :9, netpart %s)", st.Addr(), devices.PartName(st))
	fmt.Printf("damselfly: appliance up addr=%s\n", st.Addr())
	<-ctx.Done()
	return nil
}

// vfsWriter lets the HTTP server change the root filesystem.
type vfsWriter struct{ v *vfs.VFS }

// WriteFile writes through a temporary file renamed into place, so an upload
// that fails half-way (a client that disconnects, a full disk) leaves the
// old file as it was.
func (w vfsWriter) WriteFile(name string, r io.Reader) (int64, error) {
	if dir := path.Dir(name); dir != "." {
		if err := w.v.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
	}
	tmp := name + ".upload~"
	f, err := w.v.Create(tmp)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.v.Rename(tmp, name)
	}
	if err != nil {
		w.v.Remove(tmp)
	}
	return n, err
}

func (w vfsWriter) Remove(name string) error { return w.v.Remove(name) }
func (w vfsWriter) Sync() error              { return w.v.Sync() }

// tcpConn is one entry of "tcp_connections" in /status.json.
type tcpConn struct {
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`
	CPU    int    `json:"cpu"`
}

// kernelStatus is the "kernel" member of /status.json.
func kernelStatus(sys *sched.System, st *stack.Stack, dev *vnet.Device, root *vfs.VFS) any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ss := sys.Stats()
	conns := []tcpConn{}
	for cpu, list := range st.Connections() {
		for _, c := range list {
			conns = append(conns, tcpConn{Local: c.Local.String(), Remote: c.Remote.String(), State: c.State, CPU: cpu})
		}
	}
	_, offload := st.OffloadStats()
	ports := []vfs.PortStats{}
	for _, m := range root.Mounts() {
		ports = append(ports, m.Port().Stats())
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
		"netpart":         devices.PartName(st),
		"addr":            netip.AddrPortFrom(st.Addr(), 80).String(),
		"net_threads":     perThread,
		"net_device":      dev.Stats(),
		"tcp_connections": conns,
		"disks":           devices.DiskStats(),
		"irqs":            devices.IRQStats(),
		"offload":         offload,
		"vfs_ports":       ports,
		"memory": map[string]uint64{
			"heap_alloc": ms.HeapAlloc, "heap_sys": ms.HeapSys, "sys": ms.Sys,
		},
	}
}
