package ci

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"damselfly/net/stack"
	"damselfly/qemu"
)

// TestBootPCI boots the appliance on QEMU q35 (SeaBIOS assigns the BARs,
// the PVH option ROM starts the kernel) with a virtio-net-pci and a
// virtio-blk-pci device, both modern-only. From the host it fetches every
// file of an ext2 disk made by mke2fs -d and compares digests, PUTs a
// file, checks both devices interrupt through MSI-X, and presses the
// power button (ACPI's fixed power button on q35).
// After QEMU exits the image must be clean and hold the file.
func TestBootPCI(t *testing.T) {
	needE2fsprogs(t)
	k := kernel(t)

	src := filepath.Join(t.TempDir(), "site")
	r := rand.New(rand.NewPCG(5, 6))
	files := map[string][]byte{"index.html": []byte("<h1>q35</h1>\n")}
	for i, n := range []int{1, 4096, 65537, 1<<20 + 3} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		files[fmt.Sprintf("d%d/f%d.bin", i%2, i)] = b
	}
	writeTree(t, src, files)
	img := filepath.Join(t.TempDir(), "root.img")
	mkext2(t, img, "4096", "32M", src)

	port := freePort(t)
	vm := startUntil(t, qemu.Config{
		Kernel: k, Machine: "q35", SMP: 2, Memory: "512M", QMP: filepath.Join(t.TempDir(), "qmp.sock"),
		Disks: []string{img}, Net: qemu.NetUser, HostFwd: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:80", port)},
		Append: "root=/dev/vda rw",
	}, "damselfly: appliance up", 90*time.Second, 5*time.Minute)
	con := vm.Console()
	for _, want := range []string{"machine: qemu-pc", "vda: virtio-blk-pci", "vtnet0: virtio-net-pci"} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 60 * time.Second}
	for name, want := range files {
		resp, err := client.Get(base + "/" + name)
		if err != nil {
			t.Fatalf("GET /%s: %v", name, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || sha256.Sum256(got) != sha256.Sum256(want) {
			t.Errorf("GET /%s: status %d, %d bytes of %d, err %v", name, resp.StatusCode, len(got), len(want), err)
		}
	}
	// Both functions run on MSI-X: their queue vectors (GSI -1: no I/O
	// APIC input) have fired.
	resp, err := client.Get(base + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Kernel struct {
			IRQs []struct {
				Name  string `json:"name"`
				GSI   int    `json:"gsi"`
				Count uint64 `json:"count"`
			} `json:"irqs"`
		} `json:"kernel"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("status.json: %v", err)
	}
	msix := map[string]uint64{}
	for _, q := range st.Kernel.IRQs {
		if dev, _, ok := strings.Cut(q.Name, ":q"); ok && q.GSI == -1 {
			msix[dev] += q.Count
		}
	}
	if msix["vda"] == 0 || msix["vtnet0"] == 0 {
		t.Errorf("MSI-X queue interrupts per device %v; irqs %+v", msix, st.Kernel.IRQs)
	}

	put := bytes.Repeat([]byte("written over virtio-blk-pci\n"), 30000)
	req, _ := http.NewRequest("PUT", base+"/up/put.txt", bytes.NewReader(put))
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %v %v", err, resp)
	}

	if err := vm.PowerButton(); err != nil {
		t.Fatal(err)
	}
	res, err := vm.Wait()
	if err != nil || res.Status != qemu.StatusSuccess {
		t.Fatalf("power off: %v (status %d)", err, res.Status)
	}
	if !strings.Contains(vm.Console(), "power button pressed") {
		t.Error("powered off, but not by the power button")
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn after PUT: %v\n%s", err, out)
	}
	dump := filepath.Join(t.TempDir(), "put.txt")
	if out, err := exec.Command("debugfs", "-R", "dump /up/put.txt "+dump, img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(dump); !bytes.Equal(got, put) {
		t.Errorf("PUT file on the image: %d bytes, want %d", len(got), len(put))
	}
}

// TestBootPCIBlk runs selftest=blk on a virtio-blk-pci disk of 1 MiB +
// 512 B on q35 (configuration space through ECAM), on pc (i440fx: no MCFG,
// so through ports 0xcf8/0xcfc), and on q35 with the disk's 64-bit BAR
// above the 64 GiB the boot page tables map, as Cloud Hypervisor places
// them: a 64 GiB ivshmem BAR (memory reserved lazily, never touched) fills
// SeaBIOS's 32-bit window, so it moves the 64-bit BARs to 64 GiB and up;
// and on q35 with the disk behind a PCI Express root port (bus 1: the walk
// follows the bridge).
func TestBootPCIBlk(t *testing.T) {
	for _, tc := range []struct {
		name, machine string
		extra         []string
		rootPort      bool
	}{
		{name: "q35", machine: "q35"},
		{name: "pc", machine: "pc"},
		{name: "q35-high-bar", machine: "q35", extra: []string{"-object", "memory-backend-ram,id=hm,size=64G,reserve=off", "-device", "ivshmem-plain,memdev=hm"}},
		{name: "q35-root-port", machine: "q35", rootPort: true},
	} {
		machine := tc.machine
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			size := int64(1<<20 + 512)
			img := makeImage(t, size)
			want := fileSHA256(t, img)
			origHead := make([]byte, size/sector/2*sector)
			if f, err := os.Open(img); err == nil {
				f.ReadAt(origHead, 0)
				f.Close()
			}
			cfg := qemu.Config{Machine: machine, SMP: 2, Memory: "512M", Disks: []string{img},
				Append: "selftest=blk poweroff loglevel=debug", Extra: tc.extra}
			if tc.rootPort {
				cfg.Disks = nil
				cfg.Extra = []string{"-drive", "id=rp,file=" + img + ",format=raw,if=none",
					"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1",
					"-device", "virtio-blk-pci,bus=rp1,drive=rp,disable-legacy=on"}
			}
			out, res, err := boot(t, cfg, 120*time.Second)
			if err != nil && tc.extra != nil && !strings.Contains(out, "Damselfly") {
				t.Skipf("QEMU would not start with a 64 GiB ivshmem region (%v): host overcommit policy?", err)
			}
			if err != nil {
				t.Fatalf("%v (status %d)", err, res.Status)
			}
			if tc.extra != nil {
				m := highBarRE.FindStringSubmatch(out)
				if m == nil {
					t.Fatal("no debug line for the disk's 64-bit BAR")
				}
				if a, _ := strconv.ParseUint(m[1], 0, 64); a < 64<<30 {
					t.Fatalf("the disk's BAR is at %#x, below 64 GiB: the test proves nothing", a)
				}
			}
			how := "ecam"
			if machine == "pc" {
				how = "ports 0xcf8"
			}
			if !strings.Contains(out, "through "+how) {
				t.Errorf("configuration space not reached through %s", how)
			}
			if tc.rootPort && !strings.Contains(out, "vda: virtio-blk-pci 01:00.0") {
				t.Error("the disk was not found on bus 1 behind the root port")
			}
			m := blkRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatal("no blk: sha256= line")
			}
			if m[1] != want || m[2] != fmt.Sprint(size) {
				t.Fatalf("guest read sha256=%s bytes=%s, image has sha256=%s bytes=%d", m[1], m[2], want, size)
			}
			checkCopy(t, img, origHead, size)
		})
	}
}

// highBarRE finds the address of a virtio function's 64-bit BAR in the
// kernel's debug line "pci 00:01.0: [bar1 mem32 [...) bar4 mem64 [0x...-...".
var highBarRE = regexp.MustCompile(`bar4 mem64 \[(0x[0-9a-f]+)-`)

// TestTapPCIMultiqueue runs the appliance on q35 with a two-queue-pair
// virtio-net-pci device that computes RSS (mq=on,rss=on) over a multiqueue
// tap: the driver programs the Toeplitz key and table, each queue pair
// interrupts through its own MSI-X vectors, and every connection must be
// owned by the CPU its Toeplitz hash names with no cross-CPU hop.
func TestTapPCIMultiqueue(t *testing.T) {
	ns := newTapNetns(t, fmt.Sprintf("dfly-pcimq-%d", os.Getpid()), "multi_queue") // skips without root
	k := kernel(t)
	const smp, nconn = 2, 200
	cfg := qemu.Config{
		Binary: ns.qemuWrapper(t), Kernel: k, Machine: "q35", SMP: smp, Memory: "512M",
		Append: "ip=10.0.3.2/24,gw=10.0.3.1 netpart=toeplitz",
		Extra: []string{
			"-netdev", fmt.Sprintf("tap,id=net0,ifname=tap0,script=no,downscript=no,queues=%d", smp),
			"-device", "virtio-net-pci,netdev=net0,mq=on,rss=on,vectors=6,disable-legacy=on",
		},
	}
	vm := startUntil(t, cfg, "damselfly: appliance up", 90*time.Second, 4*time.Minute)
	if !strings.Contains(vm.Console(), fmt.Sprintf("vtnet0: virtio-net-pci 00:01.0, %d queue pairs, 5 MSI-X vectors", smp)) {
		t.Errorf("console lacks the multiqueue MSI-X device line")
	}
	var st statusConns
	var irqs struct {
		Kernel struct {
			IRQs []struct {
				Name  string `json:"name"`
				Count uint64 `json:"count"`
			} `json:"irqs"`
		} `json:"kernel"`
	}
	b, err := statusWhileConnected(ns, nconn)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil {
		err = json.Unmarshal(b, &irqs)
	}
	if err != nil {
		t.Fatal(err)
	}
	part, err := stack.PartitionByName("toeplitz")
	if err != nil {
		t.Fatal(err)
	}
	perCPU, n := checkOwners(t, st, smp, "toeplitz", func(remote, local netip.AddrPort) int {
		return part.Thread(remote, local, smp)
	})
	if n < nconn || perCPU[0] == 0 || perCPU[1] == 0 {
		t.Errorf("%d established connections, per CPU %v", n, perCPU)
	}
	var hops uint64
	for _, th := range st.Kernel.NetThreads {
		hops += th.HopsIn
	}
	if hops != 0 {
		t.Errorf("%d cross-CPU hops although the device steers each flow to its owner's queue", hops)
	}
	// Receive queues 0 and 1 (virtqueues 0 and 2) have vectors 1 and 3.
	fired := map[string]uint64{}
	for _, q := range irqs.Kernel.IRQs {
		fired[q.Name] = q.Count
	}
	if fired["vtnet0:q1"] == 0 || fired["vtnet0:q3"] == 0 {
		t.Errorf("receive queue vectors did not both fire: %v", fired)
	}
	t.Logf("connections per cpu %v, vectors %v", perCPU, fired)
}
