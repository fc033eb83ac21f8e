package ci

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"damselfly/qemu"
)

// netns is a network namespace the test made itself, with a tap inside.
type netns struct{ name string }

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newTapNetns makes namespace name with tap0 at 10.0.3.1/24 (tapFlags:
// extra "ip tuntap add" words such as multi_queue); the guest takes 10.0.3.2. Only addresses inside this namespace are ever used.
func newTapNetns(t *testing.T, name string, tapFlags ...string) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("tap tests need root (network namespaces and taps)")
	}
	for _, tool := range []string{"ip", "wrk", "ab"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps installs it)", tool)
		}
	}
	exec.Command("ip", "netns", "del", name).Run()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	in := func(args ...string) { run(t, append([]string{"ip", "netns", "exec", name}, args...)...) }
	in("ip", "link", "set", "lo", "up")
	in(append([]string{"ip", "tuntap", "add", "dev", "tap0", "mode", "tap"}, tapFlags...)...)
	in("ip", "addr", "add", "10.0.3.1/24", "dev", "tap0")
	in("ip", "link", "set", "tap0", "up")
	return &netns{name: name}
}

// logNAPI reads the guest's virtio-net counters from /status.json and logs
// interrupts per received frame and frames per poll: the measure of the
// interrupt mitigation (docs/virtio-net.md). The device's interrupt must have
// fired at least once: the driver runs interrupt-driven in the guest.
func (n *netns) logNAPI(t *testing.T, when string) {
	t.Helper()
	out := n.output(t, "curl", "-s", "-m", "20", "http://10.0.3.2/status.json")
	var st struct {
		Kernel struct {
			Dev struct {
				Interrupts uint64
				Queues     []struct {
					RxFrames, Interrupts, IrqWhilePolling, Polls uint64
				}
			} `json:"net_device"`
		} `json:"kernel"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status.json: %v\n%s", err, out)
	}
	var frames, irqs, missed, polls uint64
	for _, q := range st.Kernel.Dev.Queues {
		frames += q.RxFrames
		irqs += q.Interrupts
		missed += q.IrqWhilePolling
		polls += q.Polls
	}
	if st.Kernel.Dev.Interrupts == 0 {
		t.Errorf("%s: virtio-net interrupt never fired (device counters %+v)", when, st.Kernel.Dev)
	}
	if frames > 0 && polls > 0 {
		t.Logf("%s: NAPI: %d rx frames, %d device interrupts, %d queue interrupts (%.3f per frame), %d while polling, %d polls (%.1f frames/poll)",
			when, frames, st.Kernel.Dev.Interrupts, irqs, float64(irqs)/float64(frames), missed, polls, float64(frames)/float64(polls))
	}
}

// qemuWrapper returns a script that runs QEMU inside the namespace.
func (n *netns) qemuWrapper(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "qemu-in-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", n.name, qemu.DefaultBinary)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (n *netns) output(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, append([]string{"ip", "netns", "exec", n.name}, args...)...)
}

var (
	wrkReqRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkErrRE = regexp.MustCompile(`(Socket errors:.*|Non-2xx or 3xx responses:.*)`)
	abReqRE  = regexp.MustCompile(`Requests per second:\s+([0-9.]+)`)
	abFailRE = regexp.MustCompile(`Failed requests:\s+(\d+)`)
	abN2xxRE = regexp.MustCompile(`Non-2xx responses:\s+(\d+)`)
)

// TestTapLoad boots the appliance on a tap in a namespace of its own and
// points wrk (keep-alive) and ab (a connection per request) at port 80 for a
// few seconds each: no socket errors, no non-2xx responses. The figures are
// logged (docs/net.md records them); they are not asserted.
func TestTapLoad(t *testing.T) {
	ns := newTapNetns(t, fmt.Sprintf("dfly-tap-%d", os.Getpid()))
	startUntil(t, qemu.Config{
		Binary: ns.qemuWrapper(t), Kernel: kernel(t), SMP: 2, Memory: "512M",
		Net: qemu.NetTap, Tap: "tap0", Append: "ip=10.0.3.2/24,gw=10.0.3.1",
	}, "damselfly: appliance up", 90*time.Second, 3*time.Minute)
	// First contact resolves ARP both ways.
	ns.output(t, "curl", "-s", "-o", "/dev/null", "-m", "20", "--retry", "3", "http://10.0.3.2/")

	out := ns.output(t, "wrk", "-t", "2", "-c", "8", "-d", "4s", "--latency", "http://10.0.3.2/")
	m := wrkReqRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("wrk output has no Requests/sec:\n%s", out)
	}
	if e := wrkErrRE.FindAllString(out, -1); len(e) > 0 {
		t.Errorf("wrk reports %v:\n%s", e, out)
	}
	t.Logf("wrk -t2 -c8 -d4s keep-alive: %s req/s\n%s", m[1], out)
	ns.logNAPI(t, "after wrk")

	out = ns.output(t, "ab", "-q", "-n", "500", "-c", "4", "http://10.0.3.2/")
	m = abReqRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ab output has no Requests per second:\n%s", out)
	}
	for _, re := range []*regexp.Regexp{abFailRE, abN2xxRE} {
		if f := re.FindStringSubmatch(out); f != nil {
			if n, _ := strconv.Atoi(f[1]); n != 0 {
				t.Errorf("ab: %s", f[0])
			}
		}
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		// ab's latency percentiles: "  50%      5" ... "  99%     12" (ms).
		pct := strings.HasPrefix(strings.TrimSpace(l), "50%") || strings.HasPrefix(strings.TrimSpace(l), "99%")
		if strings.Contains(l, "Complete requests") || strings.Contains(l, "Time per request") || pct {
			t.Log(l)
		}
	}
	t.Logf("ab -n500 -c4 (new connection per request): %s req/s", m[1])
}

// TestTapEchoLoss echoes 50 MB through the appliance's port 7 over a tap
// while nftables in the test's namespace drops 2% of the packets each way
// at random; every byte must come back in order.
func TestTapEchoLoss(t *testing.T) {
	ns := newTapNetns(t, fmt.Sprintf("dfly-loss-%d", os.Getpid()))
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (make deps installs nftables)")
	}
	k := kernel(t)
	// Segmentation offloads off, so that nft drops single segments.
	ns.output(t, "ip", "link", "set", "tap0", "gso_max_segs", "1", "gso_max_size", "1500")
	rules := `table inet loss {
	chain in { type filter hook input priority 0; iifname "tap0" numgen random mod 100 < 2 counter drop; }
	chain out { type filter hook output priority 0; oifname "tap0" numgen random mod 100 < 2 counter drop; }
}`
	rf := filepath.Join(t.TempDir(), "loss.nft")
	os.WriteFile(rf, []byte(rules), 0o644)
	startUntil(t, qemu.Config{
		Binary: ns.qemuWrapper(t), Kernel: k, SMP: 2, Memory: "512M",
		Net: qemu.NetTap, Tap: "tap0", Append: "ip=10.0.3.2/24,gw=10.0.3.1",
	}, "damselfly: appliance up", 90*time.Second, 5*time.Minute)
	ns.output(t, "curl", "-s", "-o", "/dev/null", "-m", "20", "--retry", "3", "http://10.0.3.2/")
	ns.output(t, "nft", "-f", rf)

	const size = 50 << 20
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i*7 + i>>11)
	}
	start := time.Now()
	var back []byte
	err := inNetns(ns.name, func() error {
		c, err := net.DialTimeout("tcp", "10.0.3.2:7", 20*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(4 * time.Minute))
		go func() {
			c.Write(msg)
			c.(*net.TCPConn).CloseWrite()
		}()
		back, err = io.ReadAll(c)
		return err
	})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("echo: %v (%d of %d bytes back)", err, len(back), size)
	}
	if !bytes.Equal(back, msg) {
		t.Fatalf("echo returned %d bytes, not the %d sent", len(back), size)
	}
	drops := ns.output(t, "nft", "list", "ruleset")
	dropped := 0
	for _, m := range regexp.MustCompile(`counter packets (\d+)`).FindAllStringSubmatch(drops, -1) {
		n, _ := strconv.Atoi(m[1])
		dropped += n
	}
	if dropped == 0 {
		t.Errorf("nft dropped nothing: the loss was not applied\n%s", drops)
	}
	t.Logf("50 MB echoed with 2%% loss each way in %v (%.1f MB/s each way)\n%s", elapsed.Round(time.Millisecond),
		float64(size)/1e6/elapsed.Seconds(), drops)
	ns.logNAPI(t, "after the echo")
}
