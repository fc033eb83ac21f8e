package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Addresses of the benchmark network. With a tap they exist only inside the
// namespace the harness makes; with user networking they are QEMU's slirp
// defaults.
const (
	tapHost   = "10.0.3.1"
	tapGuest  = "10.0.3.2"
	userGuest = "10.0.2.15"
	userGW    = "10.0.2.2"
	// guestMAC is fixed so the host can be given a permanent neighbour
	// entry: the boot-time probes then go out at once instead of waiting
	// on ARP retries, which would round boot times up to seconds.
	guestMAC = "52:54:00:d5:0b:02"
)

// cloneNewnet is CLONE_NEWNET (include/uapi/linux/sched.h): setns's
// namespace type argument.
const cloneNewnet = 0x40000000

// netns is a network namespace with tap0 at tapHost/24, made for one run
// of the harness and deleted at its end.
type netns struct {
	name    string
	wrapper string // runs QEMU inside the namespace
}

func command(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNetns makes the namespace; the caller must call close.
func newNetns(name, dir string) (*netns, error) {
	exec.Command("ip", "netns", "del", name).Run() // a leftover from a killed run
	if err := command("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	n := &netns{name: name, wrapper: filepath.Join(dir, "qemu-in-"+name)}
	in := func(args ...string) error { return command(append([]string{"ip", "netns", "exec", name}, args...)...) }
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "tuntap", "add", "dev", "tap0", "mode", "tap"},
		{"ip", "addr", "add", tapHost + "/24", "dev", "tap0"},
		{"ip", "link", "set", "tap0", "up"},
		{"ip", "neigh", "replace", tapGuest, "lladdr", guestMAC, "dev", "tap0", "nud", "permanent"},
	} {
		if err := in(c...); err != nil {
			n.close()
			return nil, err
		}
	}
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s qemu-system-x86_64 \"$@\"\n", name)
	if err := os.WriteFile(n.wrapper, []byte(script), 0o755); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

func (n *netns) close() {
	exec.Command("ip", "netns", "del", n.name).Run()
	os.Remove(n.wrapper)
}

// cmd runs a program inside the namespace.
func (n *netns) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name}, args...)...)
}

// dial connects from inside the namespace: a goroutine locked to its own
// thread moves that thread into the namespace (setns) and creates the
// socket there. The socket stays in the namespace whichever thread uses it
// later. The goroutine ends without unlocking, so the runtime discards the
// thread instead of reusing it in the wrong namespace.
func (n *netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + n.name)
		if err != nil {
			ch <- result{nil, fmt.Errorf("netns: %w", err)}
			return
		}
		defer f.Close()
		if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), cloneNewnet, 0); e != 0 {
			ch <- result{nil, fmt.Errorf("netns: setns %s: %w", n.name, e)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
