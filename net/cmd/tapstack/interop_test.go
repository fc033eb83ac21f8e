//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"damselfly/net/checksum"
	"damselfly/net/icmp"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// The interop test runs our stack (this test binary re-executed as
// tapstack) on a tap inside a network namespace the test creates, and
// Linux's TCP (this binary again, as a client in the namespace) against
// it. Nothing outside the namespace is touched.

const (
	helperEnv = "DFLY_TAPSTACK_HELPER"
	nsTap     = "dfltap0"
	linuxAddr = "10.77.0.1"
	ourAddr   = "10.77.0.2"
)

// TestHelperProcess is not a test: it is the body of the re-executed
// binary (server or client), selected by the environment.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		t.Skip("helper process only")
	case "serve":
		args := strings.Fields(os.Getenv("DFLY_TAPSTACK_ARGS"))
		if err := run(args, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "udp":
		if err := linuxUDP(os.Getenv("DFLY_TARGET")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "client":
		n, _ := strconv.ParseInt(os.Getenv("DFLY_BYTES"), 10, 64)
		if err := linuxClient(os.Getenv("DFLY_TARGET"), n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// linuxClient uses Linux sockets: n bytes each way through echo, then n
// bytes down over HTTP, all verified.
func linuxClient(host string, n int64) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, "7"), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(50 * time.Second))
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, io.LimitReader(patternReader{}, n))
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.Copy(verifyWriter{}, c)
	if err != nil {
		return fmt.Errorf("echo read after %d bytes: %w", got, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("echo write: %w", err)
	}
	if got != n {
		return fmt.Errorf("echo returned %d bytes of %d", got, n)
	}
	echoDur := time.Since(start)
	start = time.Now()
	verifyOff = 0
	client := &http.Client{Timeout: 50 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s/bytes?n=%d", host, n))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err = io.Copy(verifyWriter{}, resp.Body)
	if err != nil || got != n {
		return fmt.Errorf("http body %d of %d bytes: %v", got, n, err)
	}
	fmt.Printf("echo %d bytes each way in %v (%.1f MB/s each way); http %d bytes in %v\n",
		n, echoDur.Round(time.Millisecond), float64(n)/echoDur.Seconds()/1e6, n, time.Since(start).Round(time.Millisecond))
	return nil
}

// linuxUDP sends datagrams of several sizes, some fragmented by Linux,
// to our UDP echo and checks each comes back whole.
func linuxUDP(host string) error {
	c, err := net.Dial("udp", net.JoinHostPort(host, "7"))
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 65536)
	for _, size := range []int{1, 512, 1472, 1473, 4000, 20000} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i*31 + size)
		}
		var got []byte
		for try := 0; try < 5 && got == nil; try++ {
			if _, err := c.Write(msg); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, err := c.Read(buf)
			if err == nil {
				got = buf[:n]
			}
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("udp echo of %d bytes: got %d bytes", size, len(got))
		}
	}
	fmt.Println("udp echo ok up to 20000 bytes")
	return linuxPing(host)
}

// linuxPing sends ICMP echo requests from a raw socket and checks the
// replies with gopacket, an independent decoder.
func linuxPing(host string) error {
	c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer c.Close()
	dst := &net.IPAddr{IP: net.ParseIP(host)}
	req := icmp.Echo(icmp.TypeEchoRequest, 0x77, 1, []byte("damselfly ping"))
	buf := make([]byte, 1500)
	for try := 0; try < 5; try++ {
		if _, err := c.WriteTo(req, dst); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			if from.String() != host {
				continue
			}
			p := gopacket.NewPacket(buf[:n], layers.LayerTypeICMPv4, gopacket.Default)
			ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if ok && ic.TypeCode.Type() == layers.ICMPv4TypeEchoReply && ic.Id == 0x77 && string(ic.Payload) == "damselfly ping" {
				if checksum.Checksum(buf[:n]) != 0 {
					return fmt.Errorf("echo reply with bad checksum")
				}
				fmt.Println("ping ok")
				return nil
			}
		}
	}
	return fmt.Errorf("no echo reply from %s", host)
}

// patternTable holds the pattern (byte i = i mod 251) for 256 periods,
// so any run of up to 255*251 bytes starting at offset o is
// patternTable[o%251:]: reading and checking go by copy and bytes.Equal,
// not byte loops, which the race detector would make slow.
var patternTable = func() []byte {
	b := make([]byte, 251*256)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

const patternChunk = 251 * 255

// readOff and verifyOff are the pattern positions of the client helper
// process; it has one reader and one writer goroutine, each owning one.
var readOff, verifyOff int64

// patternReader yields the tapstack pattern.
type patternReader struct{}

func (patternReader) Read(p []byte) (int, error) {
	n := min(len(p), patternChunk)
	copy(p[:n], patternTable[readOff%251:])
	readOff += int64(n)
	return n, nil
}

// verifyWriter checks that what it is given continues the pattern.
type verifyWriter struct{}

func (verifyWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n := min(len(p)-done, patternChunk)
		want := patternTable[verifyOff%251:][:n]
		if !bytes.Equal(p[done:done+n], want) {
			for i := range n {
				if p[done+i] != want[i] {
					return done + i, fmt.Errorf("byte %d is %d, want %d", verifyOff+int64(i), p[done+i], want[i])
				}
			}
		}
		verifyOff += int64(n)
		done += n
	}
	return len(p), nil
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestInteropLinux(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("interop: needs root (network namespace and tap)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("interop: %s not installed", tool)
		}
	}
	if testing.Short() {
		t.Skip("interop: skipped in -short mode")
	}
	size := int64(50 << 20)
	if v := os.Getenv("DFLY_INTEROP_BYTES"); v != "" {
		size, _ = strconv.ParseInt(v, 10, 64)
	}
	ns := fmt.Sprintf("dfly-interop-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("interop: cannot create a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	inT := func(t *testing.T, args ...string) { sh(t, append([]string{"ip", "netns", "exec", ns}, args...)...) }
	in := func(args ...string) { inT(t, args...) }
	in("ip", "link", "set", "lo", "up")
	in("ip", "tuntap", "add", "dev", nsTap, "mode", "tap")
	// No ethtool here: cap GSO at one segment so every packet the kernel
	// sends is one wire frame (and one nft verdict). A tap without
	// vnet_hdr has no TSO.
	in("ip", "link", "set", nsTap, "gso_max_segs", "1", "gso_max_size", "1500")
	in("ip", "addr", "add", linuxAddr+"/24", "dev", nsTap)
	in("ip", "link", "set", nsTap, "up")

	for _, tc := range []struct {
		name    string
		args    string
		lossPct int
	}{
		{"clean-ports", "-threads 2 -netpart ports", 0},
		{"loss2-toeplitz", "-threads 3 -netpart toeplitz", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.lossPct > 0 {
				// Random loss both ways on the Linux side of the tap.
				inT(t, "nft", "add", "table", "inet", "dfly")
				inT(t, "nft", "add", "chain", "inet", "dfly", "in", "{ type filter hook input priority 0 ; }")
				inT(t, "nft", "add", "chain", "inet", "dfly", "out", "{ type filter hook output priority 0 ; }")
				inT(t, "nft", "add", "rule", "inet", "dfly", "in", "iifname", nsTap, "numgen", "random", "mod", "100", "<", strconv.Itoa(tc.lossPct), "drop")
				inT(t, "nft", "add", "rule", "inet", "dfly", "out", "oifname", nsTap, "numgen", "random", "mod", "100", "<", strconv.Itoa(tc.lossPct), "drop")
				defer inT(t, "nft", "delete", "table", "inet", "dfly")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			srv := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
			srv.Env = append(os.Environ(), helperEnv+"=serve",
				"DFLY_TAPSTACK_ARGS=-tap "+nsTap+" -addr "+ourAddr+"/24 "+tc.args+" "+os.Getenv("DFLY_TAPSTACK_EXTRA"))
			stdout, _ := srv.StdoutPipe()
			var stderr bytes.Buffer
			srv.Stderr = &stderr
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				srv.Process.Signal(os.Interrupt)
				srv.Wait()
			}()
			ready := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "ready") {
						ready <- true
					}
				}
				ready <- false
			}()
			if !<-ready {
				t.Fatalf("tapstack did not start: %s", stderr.String())
			}
			if tc.lossPct == 0 {
				// ICMP echo and UDP (with fragmentation) from Linux sockets.
				udp := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
				udp.Env = append(os.Environ(), helperEnv+"=udp", "DFLY_TARGET="+ourAddr)
				if out, err := udp.CombinedOutput(); err != nil {
					t.Fatalf("udp: %v: %s", err, out)
				}
			}
			cli := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
			cli.Env = append(os.Environ(), helperEnv+"=client", "DFLY_TARGET="+ourAddr, "DFLY_BYTES="+strconv.FormatInt(size, 10))
			out, err := cli.CombinedOutput()
			t.Logf("%s: %s", tc.name, strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatalf("linux client: %v", err)
			}
			// Our stats page, fetched by Linux over our stack.
			st := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "bash", "-c", "exec 3<>/dev/tcp/"+ourAddr+"/80; printf 'GET /stats HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3")
			sout, err := st.Output()
			if os.Getenv("DFLY_INTEROP_STATS") != "" {
				t.Logf("stats: %s", sout)
			}
			if err == nil && tc.lossPct > 0 && !bytes.Contains(sout, []byte(`"Retransmits"`)) {
				t.Errorf("stats page: %s", sout)
			}
		})
	}
}
