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
	"sync/atomic"

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
	microvm.Mark("lwkt schedulers started")

	// The root is mounted while the network comes up (on another CPU when
	// there is one): the two share nothing but the LWKT system.
	//
	// Under TCG a first request is slow because its code runs for the
	// first time (QEMU translates it) and its disk reads are cold
	// (docs/boot.md, "Boot timeline"). So whichever of the two finishes
	// first warms the path up while the other is still on its way: one
	// GET / through net/http over a pipe (httpd.WarmUp, a throw-away
	// server: no client counter moves), of the root when the mount won
	// (which also reads the index into the page cache), else of the
	// built-in welcome page. A mount that ends after the network still
	// reads the index (httpd.WarmFiles: the lookups and the file's blocks,
	// no HTTP), which the first request would otherwise wait for.
	mounted := make(chan rootMount, 1)
	netUp := make(chan struct{})
	go func() {
		var m rootMount
		m.root, m.writable, m.err = devices.MountRoot(cfg, welcome())
		microvm.Mark("root mounted")
		mounted <- m
		if m.err != nil {
			return
		}
		select {
		case <-netUp:
			n, err := httpd.WarmFiles(m.root.FS(), "/")
			microvm.Mark("file warm-up (root)")
			kernel.Klog.Debugf("appliance: warm-up read of / from the root: %d bytes (%v)", n, err)
		default:
			warmHTTP(m.root.FS(), "root")
		}
	}()

	st, dev, err := devices.StartNetwork(cfg, sys, ncpu)
	if err != nil {
		if m := <-mounted; m.err == nil {
			registerRootShutdown(m.root)
		}
		return err
	}
	close(netUp)
	microvm.Mark("network up")

	// Port 80 listens now; a request that arrives before the root is
	// mounted waits for it (web), it is never answered from a missing tree.
	web := &pendingHandler{ready: make(chan struct{})}
	var echo, discard httpd.StreamStats
	var listeners []net.Listener
	for _, svc := range []struct {
		port  int
		serve func(net.Listener) error
	}{
		{80, func(l net.Listener) error { return (&http.Server{Handler: firstResponse(web)}).Serve(l) }},
		{httpd.EchoPort, func(l net.Listener) error { return httpd.ServeEcho(l, &echo) }},
		{httpd.DiscardPort, func(l net.Listener) error { return httpd.ServeDiscard(l, &discard) }},
	} {
		l, err := st.Listen("tcp", fmt.Sprintf(":%d", svc.port))
		if err != nil {
			if m := <-mounted; m.err == nil {
				registerRootShutdown(m.root)
			}
			web.fail(err)
			return fmt.Errorf("listen on port %d: %w", svc.port, err)
		}
		listeners = append(listeners, l)
		go func() {
			if err := svc.serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
				kernel.Klog.Errorf("appliance: port %d: %v", svc.port, err)
			}
		}()
	}
	microvm.Mark("listeners")

	var m rootMount
	select {
	case m = <-mounted:
	default:
		go warmHTTP(welcome(), "built-in page")
		m = <-mounted
	}
	if m.err != nil {
		web.fail(m.err)
		for _, l := range listeners {
			l.Close()
		}
		return m.err
	}
	root := m.root
	registerRootShutdown(root)
	var writer httpd.Writer
	if m.writable {
		writer = vfsWriter{root}
	}
	web.serve(httpd.New(httpd.Config{
		Files:  root.FS(),
		Writer: writer,
		Name:   "damselfly",
		Status: func() any { return kernelStatus(sys, st, dev, root) },
	}))
	kernel.Klog.Infof("appliance: serving http://%s/ (echo :7, discard :9, netpart %s)", st.Addr(), devices.PartName(st))
	fmt.Printf("damselfly: appliance up addr=%s\n", st.Addr())
	microvm.Mark("appliance up printed")
	<-ctx.Done()
	return nil
}

// warmHTTP sends GET / of fsys through a throw-away server (httpd.WarmUp);
// what names the files in the boot profile and the log.
func warmHTTP(fsys fs.FS, what string) {
	code, err := httpd.WarmUp(httpd.New(httpd.Config{Files: fsys, Name: "warm-up"}), "/")
	microvm.Mark("http warm-up (" + what + ")")
	kernel.Klog.Debugf("appliance: warm-up GET / of the %s answered %d (%v)", what, code, err)
}

// rootMount is what mounting the root gave.
type rootMount struct {
	root     *vfs.VFS
	writable bool
	err      error
}

// registerRootShutdown syncs and closes the root at shutdown.
func registerRootShutdown(root *vfs.VFS) {
	kernel.OnShutdown("filesystems", func() error {
		if err := root.Sync(); err != nil {
			return err
		}
		return root.Close()
	})
}

// pendingHandler holds requests until the handler that serves them exists
// (serve) or cannot (fail): each request waits on ready, or gives up when
// its client goes away.
type pendingHandler struct {
	ready chan struct{} // closed by serve or fail, once
	h     http.Handler  // set before ready is closed
	err   error         // set before ready is closed
}

func (p *pendingHandler) serve(h http.Handler) { p.h = h; close(p.ready) }
func (p *pendingHandler) fail(err error)       { p.err = err; close(p.ready) }

func (p *pendingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-p.ready:
	case <-r.Context().Done():
		return
	}
	if p.err != nil {
		http.Error(w, "root filesystem: "+p.err.Error(), http.StatusServiceUnavailable)
		return
	}
	p.h.ServeHTTP(w, r)
}

// firstResponse marks the first request's arrival and answer in the boot
// profile, which ends the boot (kernel.BootProfileDone); later requests
// pay one atomic load.
func firstResponse(h http.Handler) http.Handler {
	var first atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.Load() || !first.CompareAndSwap(false, true) {
			h.ServeHTTP(w, r)
			return
		}
		microvm.Mark("first HTTP request read")
		h.ServeHTTP(w, r)
		kernel.BootProfileDone("first HTTP handler returned")
	})
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
			"total_alloc": ms.TotalAlloc, "gc_cycles": uint64(ms.NumGC),
		},
		"gc": map[string]int64{"percent": int64(kernel.GC.Percent), "memory_limit": kernel.GC.Limit},
	}
}
