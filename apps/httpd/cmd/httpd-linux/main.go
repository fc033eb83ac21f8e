// Command httpd-linux runs the appliance's services as an ordinary Linux
// program: the same apps/httpd handler on port 80 (files, /status,
// /status.json), echo on port 7 and discard on port 9, over the Linux
// kernel's sockets. It is the program of the Linux comparison guest that
// make bench boots beside Damselfly (qemu/linuxguest/build.sh puts it in the
// initramfs), so the two differ only below the handler.
//
//	httpd-linux --root /mnt [--rw] [--addr :80]
//
// /status.json's "kernel" member carries the figures the benchmark compares:
// "memory" has the guest's memory in use (MemTotal - MemAvailable from
// /proc/meminfo, in bytes) beside this process's Go runtime figures, under
// the same names the Damselfly appliance uses for its own runtime.
//
// Build it static (the initramfs has no C library):
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o build/bench/httpd-linux ./apps/httpd/cmd/httpd-linux
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"

	"damselfly/apps/httpd"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	rw := flag.Bool("rw", false, "accept PUT and DELETE")
	addr := flag.String("addr", ":80", "HTTP listen address")
	echoAddr := flag.String("echo", fmt.Sprintf(":%d", httpd.EchoPort), "echo listen address (empty: off)")
	discardAddr := flag.String("discard", fmt.Sprintf(":%d", httpd.DiscardPort), "discard listen address (empty: off)")
	meminfo := flag.String("meminfo", "/proc/meminfo", "file to read memory figures from")
	flag.Parse()
	if err := run(*root, *rw, *addr, *echoAddr, *discardAddr, *meminfo); err != nil {
		fmt.Fprintf(os.Stderr, "httpd-linux: %v\n", err)
		os.Exit(1)
	}
}

func run(root string, rw bool, addr, echoAddr, discardAddr, meminfo string) error {
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return fmt.Errorf("root %s is not a directory (%v)", root, err)
	}
	cfg := httpd.Config{
		Files:  os.DirFS(root),
		Name:   "linux",
		Status: func() any { return linuxStatus(meminfo) },
	}
	if rw {
		w, err := httpd.NewOSWriter(root)
		if err != nil {
			return err
		}
		cfg.Writer = w
	}
	srv := httpd.New(cfg)
	var echo, discard httpd.StreamStats
	type service struct {
		addr  string
		serve func(net.Listener) error
	}
	services := []service{
		{addr, func(l net.Listener) error { return (&http.Server{Handler: srv}).Serve(l) }},
		{echoAddr, func(l net.Listener) error { return httpd.ServeEcho(l, &echo) }},
		{discardAddr, func(l net.Listener) error { return httpd.ServeDiscard(l, &discard) }},
	}
	errc := make(chan error, len(services))
	for _, svc := range services {
		if svc.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", svc.addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", svc.addr, err)
		}
		go func() {
			err := svc.serve(l)
			errc <- fmt.Errorf("serve %s: %w", svc.addr, err)
		}()
	}
	fmt.Printf("linux: appliance up http=%s echo=%s discard=%s\n", addr, echoAddr, discardAddr)
	return <-errc
}

// linuxStatus is the "kernel" member of /status.json.
func linuxStatus(meminfo string) any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mem := map[string]uint64{"heap_alloc": ms.HeapAlloc, "heap_sys": ms.HeapSys, "sys": ms.Sys,
		"total_alloc": ms.TotalAlloc, "gc_cycles": uint64(ms.NumGC)}
	doc := map[string]any{"cpus": runtime.NumCPU(), "memory": mem}
	if b, err := os.ReadFile(meminfo); err != nil {
		doc["meminfo_error"] = err.Error()
	} else if m, err := parseMeminfo(b); err != nil {
		doc["meminfo_error"] = err.Error()
	} else {
		mem["guest_total"] = m.Total
		mem["guest_available"] = m.Available
		mem["guest_in_use"] = m.InUse()
	}
	return doc
}
