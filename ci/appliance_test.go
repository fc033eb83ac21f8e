package ci

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"damselfly/qemu"
)

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBootAppliance boots the default appliance with QEMU user networking
// and an ext2 root mounted rw, then from the host: fetches every file of the
// disk over HTTP and compares digests, checks HEAD and a range, PUTs and
// DELETEs files, echoes bytes through port 7, reads /status.json, and
// presses the power button. After QEMU exits the image must be clean
// (e2fsck -fn) and hold the PUT file (debugfs).
func TestBootAppliance(t *testing.T) {
	needE2fsprogs(t)
	k := kernel(t)

	src := filepath.Join(t.TempDir(), "site")
	r := rand.New(rand.NewPCG(3, 4))
	files := map[string][]byte{}
	for i, n := range []int{0, 1, 4095, 4096, 70000, 1 << 20, 3<<20 + 17} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		name := fmt.Sprintf("d%d/file%d.bin", i%3, i)
		files[name] = b
	}
	files["index.html"] = []byte("<h1>disk site</h1>\n")
	files["doomed.txt"] = []byte("delete me\n")
	writeTree(t, src, files)
	img := filepath.Join(t.TempDir(), "root.img")
	mkext2(t, img, "4096", "64M", src)

	httpPort, echoPort := freePort(t), freePort(t)
	vm := startUntil(t, qemu.Config{
		Kernel: k, SMP: 3, Memory: "512M", QMP: filepath.Join(t.TempDir(), "qmp.sock"), Disks: []string{img},
		Net: qemu.NetUser, HostFwd: []string{
			fmt.Sprintf("tcp:127.0.0.1:%d-:80", httpPort),
			fmt.Sprintf("tcp:127.0.0.1:%d-:7", echoPort),
		},
		Append: "root=/dev/vda rw gogc=250",
	}, "damselfly: appliance up", 90*time.Second, 5*time.Minute)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	client := &http.Client{Timeout: 60 * time.Second}
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: body: %v", path, err)
		}
		return resp, b
	}

	for name, want := range files {
		resp, got := get("/"+name, nil)
		if resp.StatusCode != 200 || sha256.Sum256(got) != sha256.Sum256(want) {
			t.Errorf("GET /%s: status %d, %d bytes, digest mismatch=%v", name, resp.StatusCode, len(got), !bytes.Equal(got, want))
		}
	}
	if resp, got := get("/d2/file5.bin", map[string]string{"Range": "bytes=1000-1999"}); resp.StatusCode != 206 || !bytes.Equal(got, files["d2/file5.bin"][1000:2000]) {
		t.Errorf("range request: status %d, %d bytes", resp.StatusCode, len(got))
	}
	if resp, _ := get("/", nil); resp.StatusCode != 200 {
		t.Errorf("GET /: %d", resp.StatusCode)
	}

	put := bytes.Repeat([]byte("uploaded by the boot test\n"), 40000)
	req, _ := http.NewRequest("PUT", base+"/new/upload.txt", bytes.NewReader(put))
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %v %v", err, resp)
	}
	req, _ = http.NewRequest("DELETE", base+"/doomed.txt", nil)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %v %v", err, resp)
	}
	if resp, got := get("/new/upload.txt", nil); resp.StatusCode != 200 || !bytes.Equal(got, put) {
		t.Errorf("GET after PUT: %d, %d bytes", resp.StatusCode, len(got))
	}
	// An upload cut short (the client promises more than it sends, then
	// goes away) must leave the old file as it was.
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), 10*time.Second); err == nil {
		fmt.Fprintf(c, "PUT /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial")
		time.Sleep(300 * time.Millisecond)
		c.Close()
	} else {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if resp, got := get("/index.html", nil); resp.StatusCode != 200 || !bytes.Equal(got, files["index.html"]) {
		t.Errorf("after a cut-short PUT, /index.html is %d %q", resp.StatusCode, got)
	}

	// Echo through port 7: what comes back is what went out.
	echoBytes := 50 << 20
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", echoPort), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	msg := make([]byte, echoBytes)
	for i := range msg {
		msg[i] = byte(r.Uint32())
	}
	go func() {
		c.Write(msg)
		c.(*net.TCPConn).CloseWrite()
	}()
	back, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(back, msg) {
		t.Errorf("echo: %d of %d bytes back, equal=%v, err=%v", len(back), len(msg), bytes.Equal(back, msg), err)
	}

	// Hold several connections open so /status.json shows them, each on the
	// CPU the partition function names: netpart=ports (the default without
	// RSS) puts a connection on (local port + remote port) mod N. Three CPUs:
	// Linux gives connect() even source ports, so with two every connection
	// to port 80 would land on CPU 0.
	var held []net.Conn
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(500 * time.Millisecond) // let slirp finish the guest-side handshakes
	_, body := get("/status.json", nil)
	for _, c := range held {
		c.Close()
	}
	var st struct {
		HTTP struct {
			Requests uint64 `json:"requests"`
		} `json:"http"`
		Kernel struct {
			CPUs    int    `json:"cpus"`
			Netpart string `json:"netpart"`
			Conns   []struct {
				Local, Remote, State string
				CPU                  int
			} `json:"tcp_connections"`
			Disks map[string]map[string]uint64 `json:"disks"`
			IRQs  []struct {
				Name  string `json:"name"`
				Count uint64 `json:"count"`
			} `json:"irqs"`
			GC struct {
				Percent     int   `json:"percent"`
				MemoryLimit int64 `json:"memory_limit"`
			} `json:"gc"`
		} `json:"kernel"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("status.json: %v\n%s", err, body)
	}
	if st.Kernel.CPUs != 3 || st.Kernel.Netpart != "ports" || st.HTTP.Requests < uint64(len(files)) {
		t.Errorf("status.json: %+v", st)
	}
	// gogc=250 on the command line; the soft limit is 7/8 of the heap,
	// which is most of the 512 MiB.
	if gc := st.Kernel.GC; gc.Percent != 250 || gc.MemoryLimit < 300<<20 || gc.MemoryLimit > 512<<20 {
		t.Errorf("status.json: gc %+v, want percent 250 and a limit near 7/8 of 512 MiB", gc)
	}
	if st.Kernel.Disks["vda"]["requests"] == 0 {
		t.Errorf("status.json shows no disk requests for vda: %v", st.Kernel.Disks)
	}
	// Both devices run interrupt-driven: their I/O APIC lines are routed
	// and their handlers have run (the drivers poll only when routing
	// failed, which the kernel logs as a warning).
	irqs := map[string]uint64{}
	for _, q := range st.Kernel.IRQs {
		irqs[q.Name] = q.Count
	}
	if irqs["vda"] == 0 || irqs["vtnet0"] == 0 || st.Kernel.Disks["vda"]["interrupts"] == 0 {
		t.Errorf("status.json: device interrupts not delivered: irqs %v, vda %v", irqs, st.Kernel.Disks["vda"])
	}
	perCPU := map[int]int{}
	for _, c := range st.Kernel.Conns {
		if c.State == "LISTEN" || !strings.HasSuffix(c.Local, ":80") {
			continue
		}
		rp, err := netip.ParseAddrPort(c.Remote)
		if err != nil {
			t.Errorf("connection %+v: %v", c, err)
			continue
		}
		if want := int(80+rp.Port()) % st.Kernel.CPUs; c.CPU != want {
			t.Errorf("connection %+v on cpu %d, partition names %d", c, c.CPU, want)
		}
		perCPU[c.CPU]++
	}
	if total := perCPU[0] + perCPU[1] + perCPU[2]; total < len(held) || len(perCPU) < 2 {
		t.Errorf("connections per CPU %v: want all %d held ones, on more than one CPU; status:\n%s", perCPU, len(held), body)
	}

	if err := vm.PowerButton(); err != nil {
		t.Fatal(err)
	}
	res, err := vm.Wait()
	if err != nil || res.Status != qemu.StatusSuccess {
		t.Fatalf("power off: %v (status %d)", err, res.Status)
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn after PUT/DELETE: %v\n%s", err, out)
	}
	dump := filepath.Join(t.TempDir(), "upload.txt")
	if out, err := exec.Command("debugfs", "-R", "dump /new/upload.txt "+dump, img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(dump); !bytes.Equal(got, put) {
		t.Errorf("PUT file on the image: %d bytes, want %d", len(got), len(put))
	}
	if out, _ := exec.Command("debugfs", "-R", "stat /doomed.txt", img).CombinedOutput(); !strings.Contains(string(out), "not found") {
		t.Errorf("DELETEd file still on the image:\n%s", out)
	}
}

// TestBootDiskFull fills a 2 MiB root through HTTP: the upload that does not
// fit is answered 507 Insufficient Storage naming the cause, leaves nothing
// behind (a smaller upload then fits and reads back), and the filesystem
// stays consistent (e2fsck -fn after the power button).
func TestBootDiskFull(t *testing.T) {
	needE2fsprogs(t)
	k := kernel(t)
	src := filepath.Join(t.TempDir(), "site")
	writeTree(t, src, map[string][]byte{"index.html": []byte("small disk\n")})
	img := filepath.Join(t.TempDir(), "root.img")
	mkext2(t, img, "1024", "2M", src)
	httpPort := freePort(t)
	vm := startUntil(t, qemu.Config{
		Kernel: k, SMP: 2, Memory: "256M", QMP: filepath.Join(t.TempDir(), "qmp.sock"), Disks: []string{img},
		Net: qemu.NetUser, HostFwd: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:80", httpPort)},
		Append: "root=/dev/vda rw",
	}, "damselfly: appliance up", 90*time.Second, 3*time.Minute)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	client := &http.Client{Timeout: 60 * time.Second}
	put := func(path string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", base+path, bytes.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("PUT %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	r := rand.New(rand.NewPCG(5, 6))
	big, small := make([]byte, 3<<20), make([]byte, 500<<10)
	for _, b := range [][]byte{big, small} {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	if code, body := put("/big.bin", big); code != http.StatusInsufficientStorage || !strings.Contains(body, "no space left on device") {
		t.Errorf("PUT of 3 MiB on a 2 MiB disk: %d %q, want 507 naming the cause", code, body)
	}
	if code, body := put("/small.bin", small); code != http.StatusCreated {
		t.Fatalf("PUT of 500 KiB after the failed one: %d %q (space not given back?)", code, body)
	}
	resp, err := client.Get(base + "/small.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, small) {
		t.Errorf("GET /small.bin: %d bytes, want the 500 KiB uploaded", len(got))
	}
	if err := vm.PowerButton(); err != nil {
		t.Fatal(err)
	}
	if res, err := vm.Wait(); err != nil || res.Status != qemu.StatusSuccess {
		t.Fatalf("power off: %v (status %d)", err, res.Status)
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn after the full disk: %v\n%s", err, out)
	}
	if out, _ := exec.Command("debugfs", "-R", "ls -l /", img).CombinedOutput(); strings.Contains(string(out), "big.bin") {
		t.Errorf("the failed upload left a file behind:\n%s", out)
	}
}
