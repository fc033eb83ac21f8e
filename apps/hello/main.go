//go:build tamago

// Command hello is the smallest Damselfly application: an ordinary Go main
// that serves net/http on Damselfly's TCP/IP stack. Build and boot it with
//
//	make image APP=./apps/hello
//	go run ./qemu/cmd/vmrun --kernel build/hello.elf --hostfwd tcp:127.0.0.1:8080-:8080
//
// then open http://127.0.0.1:8080/.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"

	_ "damselfly/board/microvm" // machine support: the runtime's hooks for QEMU microvm
	"damselfly/kernel"
	"damselfly/kernel/devices"
)

func main() {
	// kernel.Run boots (console, memory, CPUs, command line, self-tests)
	// and then runs the application in its own goroutine.
	kernel.Run(func(ctx context.Context) {
		// One LWKT scheduler per CPU, each pinned to its CPU; the shell's
		// threads and stats commands show it.
		sys := devices.LWKTSystem()
		// After StartNetwork, the standard library's net.Listen and
		// net.Dial use Damselfly's stack.
		st, _, err := devices.StartNetwork(kernel.Config, sys, sys.NCPU())
		if err != nil {
			kernel.Klog.Errorf("hello: %v", err)
			return
		}
		l, err := net.Listen("tcp", ":8080")
		if err != nil {
			kernel.Klog.Errorf("hello: %v", err)
			return
		}
		fmt.Printf("hello: listening on %s:8080\n", st.Addr())
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello from Damselfly on %d CPUs, %s %s\n", sys.NCPU(), r.Method, r.URL.Path)
		}))
	})
}
