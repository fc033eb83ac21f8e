//go:build linux

// Command tapstack runs the Damselfly TCP/IP stack as a Linux process on a
// tap device: our debugging bench and the harness for interop tests
// against Linux's own TCP. It serves TCP echo (port 7), discard (port 9)
// and HTTP (port 80: a small page, /bytes?n=N returning N bytes, /stats
// with the per-thread counters).
//
//	tapstack -tap tap0 -addr 10.0.0.2/24 [-gw 10.0.0.1] [-threads N] [-netpart ports|toeplitz] [-dhcp] [-dns a,b]
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"damselfly/net/ether"
	"damselfly/net/link"
	"damselfly/net/stack"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("tapstack: ")
	if err := run(os.Args[1:], nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		log.Fatal(err)
	}
}

// run parses args, brings the stack up and serves until a signal arrives
// or stop is closed. It prints "ready" once serving, which tests wait for.
func run(args []string, stop <-chan struct{}) error {
	fs := flag.NewFlagSet("tapstack", flag.ContinueOnError)
	tapName := fs.String("tap", "", "tap device to attach to (created if missing)")
	addr := fs.String("addr", "10.0.0.2/24", "our address and prefix")
	gw := fs.String("gw", "", "default gateway")
	threads := fs.Int("threads", 2, "protocol threads")
	netpart := fs.String("netpart", "ports", "connection partition: ports or toeplitz")
	macStr := fs.String("mac", "02:df:00:00:00:02", "our MAC address")
	mtu := fs.Int("mtu", 1500, "IP MTU")
	useDHCP := fs.Bool("dhcp", false, "acquire the address by DHCP instead of -addr")
	dnsList := fs.String("dns", "", "comma-separated DNS servers")
	pcapPath := fs.String("pcap", "", "write every frame sent and received to this pcap file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if *tapName == "" {
		return fmt.Errorf("-tap is required")
	}
	var pfx netip.Prefix
	if !*useDHCP {
		if pfx, err = netip.ParsePrefix(*addr); err != nil {
			return fmt.Errorf("-addr: %w", err)
		}
	}
	var servers []netip.Addr
	for _, d := range strings.Split(*dnsList, ",") {
		if d == "" {
			continue
		}
		a, err := netip.ParseAddr(d)
		if err != nil {
			return fmt.Errorf("-dns: %w", err)
		}
		servers = append(servers, a)
	}
	var gateway netip.Addr
	if *gw != "" {
		if gateway, err = netip.ParseAddr(*gw); err != nil {
			return fmt.Errorf("-gw: %w", err)
		}
	}
	part, err := stack.PartitionByName(*netpart)
	if err != nil {
		return err
	}
	mac, err := parseMAC(*macStr)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	tap, err := link.OpenTap(*tapName, mac, *mtu)
	if err != nil {
		return err
	}
	var ep link.Endpoint = tap
	if *pcapPath != "" {
		if ep, err = newCapture(tap, *pcapPath); err != nil {
			tap.Close()
			return err
		}
	}
	defer ep.Close()
	s, err := stack.New(stack.Config{Link: ep, Addr: pfx, Gateway: gateway, Threads: *threads, Partition: part,
		DHCP: *useDHCP, DNS: servers})
	if err != nil {
		return err
	}
	defer s.Close()
	if *useDHCP {
		select {
		case <-s.Ready():
		case <-sig:
			return nil
		case <-stop:
			return nil
		}
	} else {
		s.Announce()
	}
	srv, err := serve(s)
	if err != nil {
		return err
	}
	defer srv.close()
	fmt.Printf("ready %s on %s, %d threads on %d LWKT CPUs, netpart=%s\n", s.Addr(), *tapName, *threads,
		s.System().NCPU(), part.Name())
	select {
	case <-sig:
	case <-stop:
	}
	return nil
}

func parseMAC(s string) (ether.MAC, error) {
	var m ether.MAC
	var b [6]int
	if n, err := fmt.Sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]); err != nil || n != 6 {
		return m, fmt.Errorf("bad MAC %q", s)
	}
	for i := range b {
		m[i] = byte(b[i])
	}
	return m, nil
}
