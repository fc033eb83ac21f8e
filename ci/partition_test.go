package ci

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"damselfly/net/stack"
	"damselfly/qemu"
)

// inNetns runs fn on an OS thread moved into namespace name: sockets fn
// creates belong to that namespace. The thread is never unlocked, so the
// runtime retires it when fn's goroutine ends.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		const sysSetns, cloneNewnet = 308, 0x40000000 // x86-64 setns(2), CLONE_NEWNET
		if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), cloneNewnet, 0); e != 0 {
			errc <- fmt.Errorf("setns %s: %w", name, e)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

type statusConns struct {
	Kernel struct {
		CPUs       int    `json:"cpus"`
		Netpart    string `json:"netpart"`
		NetThreads []struct {
			HopsIn uint64 `json:"hops_in"`
		} `json:"net_threads"`
		Conns []struct {
			Local, Remote, State string
			CPU                  int
		} `json:"tcp_connections"`
	} `json:"kernel"`
}

// TestTapPartition opens 1000 connections with varied source ports to the
// appliance at -smp 3 and 4 under each netpart mode, then checks from
// /status.json that each connection is owned by the thread its partition
// function names, that they spread over every CPU, and, for toeplitz on a
// device without RSS, that cross-CPU packet hops were counted.
func TestTapPartition(t *testing.T) {
	newTapNetns(t, fmt.Sprintf("dfly-part-%d", os.Getpid())) // skips early without root or tools
	k := kernel(t)
	const nconn = 1000
	type variant struct {
		smp  int
		mode string
		rss  bool // a multiqueue device with RSS: one queue per CPU, steered by the device
	}
	var variants []variant
	for _, smp := range []int{3, 4} {
		for _, mode := range []string{"ports", "toeplitz"} {
			variants = append(variants, variant{smp, mode, false})
		}
	}
	variants = append(variants, variant{2, "toeplitz", true})
	for i, v := range variants {
		smp, mode := v.smp, v.mode
		{
			name := fmt.Sprintf("smp%d-%s", smp, mode)
			var flags []string
			if v.rss {
				flags = []string{"multi_queue"}
			}
			// A namespace per variant: QEMU opens a multi_queue tap only
			// with queues=, a plain one only without.
			ns := newTapNetns(t, fmt.Sprintf("dfly-part-%d-%d", os.Getpid(), i), flags...)
			cfg := qemu.Config{
				Binary: ns.qemuWrapper(t), Kernel: k, SMP: smp, Memory: "512M",
				Net: qemu.NetTap, Tap: "tap0", Append: "ip=10.0.3.2/24,gw=10.0.3.1 netpart=" + mode,
			}
			if v.rss {
				// QEMU computes the device's RSS (in software without eBPF) with
				// the key and table the driver programs.
				name += "-mq-rss"
				cfg.Net, cfg.Tap = qemu.NetNone, ""
				cfg.Extra = []string{
					"-netdev", fmt.Sprintf("tap,id=net0,ifname=tap0,script=no,downscript=no,queues=%d", smp),
					"-device", "virtio-net-device,netdev=net0,mq=on,rss=on",
				}
			}
			t.Run(name, func(t *testing.T) {
				startUntil(t, cfg, "damselfly: appliance up", 90*time.Second, 4*time.Minute)
				var st statusConns
				body, err := statusWhileConnected(ns, nconn)
				if err == nil {
					err = json.Unmarshal(body, &st)
				}
				if err != nil {
					t.Fatal(err)
				}
				if st.Kernel.CPUs != smp || st.Kernel.Netpart != mode {
					t.Fatalf("status: cpus=%d netpart=%q, want %d %q", st.Kernel.CPUs, st.Kernel.Netpart, smp, mode)
				}
				part, err := stack.PartitionByName(mode)
				if err != nil {
					t.Fatal(err)
				}
				perCPU, n := checkOwners(t, st, smp, mode, func(remote, local netip.AddrPort) int {
					if mode == "ports" {
						return int(local.Port()+remote.Port()) % smp // the rule, written out
					}
					return part.Thread(remote, local, smp)
				})
				if n < nconn {
					t.Errorf("%d established connections in /status.json, want at least %d", n, nconn)
				}
				// Spread: toeplitz reaches every CPU. The ports rule cannot when
				// N is even: Linux gives connect() even source ports, so
				// (80 + port) mod N takes only the even values.
				used := 0
				for cpu, k := range perCPU {
					if k > 0 {
						used++
					} else if mode == "toeplitz" || smp%2 == 1 {
						t.Errorf("no connection on cpu %d: %v", cpu, perCPU)
					}
				}
				if used < 2 {
					t.Errorf("all connections on one CPU: %v", perCPU)
				}
				var hops uint64
				for _, th := range st.Kernel.NetThreads {
					hops += th.HopsIn
				}
				switch {
				case v.rss && hops != 0:
					t.Errorf("%d cross-CPU hops although the device steers each flow to its owner's queue", hops)
				case !v.rss && hops == 0:
					t.Errorf("no cross-CPU hops counted (the device has no RSS: every packet arrives on queue 0)")
				}
				t.Logf("connections per cpu %v, cross-CPU hops %d", perCPU, hops)
			})
		}
	}
}

// statusWhileConnected opens nconn connections to the guest's port 80 from
// inside ns and, while they are open, reads /status.json on one more; it
// returns the body.
func statusWhileConnected(ns *netns, nconn int) ([]byte, error) {
	var body []byte
	err := inNetns(ns.name, func() error {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < nconn; i++ {
			c, err := net.DialTimeout("tcp", "10.0.3.2:80", 20*time.Second)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			conns = append(conns, c)
		}
		c, err := net.DialTimeout("tcp", "10.0.3.2:80", 20*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		io.WriteString(c, "GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		return err
	})
	return body, err
}

// checkOwners checks that every established connection to port 80 in st is
// on the CPU owner names, and counts them per CPU.
func checkOwners(t *testing.T, st statusConns, smp int, mode string, owner func(remote, local netip.AddrPort) int) (perCPU []int, n int) {
	t.Helper()
	perCPU = make([]int, smp)
	for _, c := range st.Kernel.Conns {
		if c.State != "ESTABLISHED" || !strings.HasSuffix(c.Local, ":80") {
			continue
		}
		local, err1 := netip.ParseAddrPort(c.Local)
		remote, err2 := netip.ParseAddrPort(c.Remote)
		if err1 != nil || err2 != nil {
			t.Fatalf("connection %+v: %v %v", c, err1, err2)
		}
		if want := owner(remote, local); c.CPU != want {
			t.Errorf("%s -> %s on cpu %d, %s names %d", c.Remote, c.Local, c.CPU, mode, want)
		}
		if c.CPU >= 0 && c.CPU < smp {
			perCPU[c.CPU]++
		}
		n++
	}
	return perCPU, n
}
