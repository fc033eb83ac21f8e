package ci

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"damselfly/kernel/pack"
	"damselfly/qemu"
)

// The packed image (kernel/pack): the boot stub must unpack the kernel and
// enter it with start_info intact on every machine type the board supports,
// and refuse a damaged image with a message instead of running garbage.

// packedKernel returns a packed image of the test kernel: kernel(t) itself
// when it is packed (what BuildKernel and make kernel produce), else a packed
// copy of it (DAMSELFLY_KERNEL may name a raw ELF).
func packedKernel(t *testing.T) string {
	t.Helper()
	k := kernel(t)
	b, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pack.Unpack(b); err == nil {
		return k
	}
	out := filepath.Join(t.TempDir(), "packed.elf")
	if err := PackKernel(k, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBootPacked boots the packed image on microvm, q35 and pc with two
// CPUs: the ready line, the command line (read through start_info, which
// the stub must hand on in EBX) and a clean power-off.
func TestBootPacked(t *testing.T) {
	k := packedKernel(t)
	for _, machine := range []string{"microvm", "q35", "pc"} {
		machine := machine
		t.Run(machine, func(t *testing.T) {
			t.Parallel()
			out, res, err := boot(t, qemu.Config{Kernel: k, Machine: machine, SMP: 2, Memory: "256M", Append: "selftest=smp poweroff"}, 90*time.Second)
			if err != nil {
				t.Fatalf("%v (status %d)", err, res.Status)
			}
			if m := readyRE.FindAllStringSubmatch(out, -1); len(m) != 1 || m[0][1] != "2" {
				t.Errorf("ready lines %q, want one with cpus=2/2", m)
			}
			for _, s := range []string{`cmdline: "selftest=smp poweroff"`, "selftest smp: ok"} {
				if !strings.Contains(out, s) {
					t.Errorf("console lacks %q", s)
				}
			}
			if strings.Contains(out, "packed image") {
				t.Error("the stub reported a problem")
			}
			if res.Status != qemu.StatusSuccess {
				t.Errorf("status %d, want %d", res.Status, qemu.StatusSuccess)
			}
		})
	}
}

// TestBootPackedCorrupt damages one byte of the compressed payload: the
// stub must say so on the serial console and stop (QEMU status 35 through
// isa-debug-exit), and the kernel must never start.
func TestBootPackedCorrupt(t *testing.T) {
	k := packedKernel(t)
	img, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	var load *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			load = p
		}
	}
	if load == nil {
		t.Fatal("packed image without PT_LOAD")
	}
	// two thirds in: well inside the payload, whatever the stub's size
	at := load.Off + load.Filesz*2/3
	img[at] ^= 0x10
	bad := filepath.Join(t.TempDir(), "corrupt.elf")
	if err := os.WriteFile(bad, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pack.Unpack(img); err == nil {
		t.Fatal("the host unpacks the damaged image: the test damaged nothing")
	}

	out, res, _ := boot(t, qemu.Config{Kernel: bad, Memory: "256M", Append: "poweroff"}, 60*time.Second)
	if !strings.Contains(out, "damselfly: packed image: checksum mismatch") {
		t.Errorf("console lacks the stub's checksum message")
	}
	if res.Status != qemu.StatusFailure {
		t.Errorf("status %d, want %d", res.Status, qemu.StatusFailure)
	}
	if readyRE.MatchString(out) || strings.Contains(out, "Damselfly ") {
		t.Error("the kernel ran from a damaged image")
	}
}

// TestBootPackedLoaderData packs a stand-in kernel whose memory span covers
// the low memory where QEMU's PVH option ROM writes hvm_start_info on q35
// (0x21e0 with QEMU 7.2): the stub must refuse to decompress over it, with
// the address on the console, instead of handing the kernel a garbled
// start_info.
func TestBootPackedLoaderData(t *testing.T) {
	kernel(t) // the QEMU and toolchain checks
	stubOnce.Do(func() { stub, stubErr = pack.BuildStub(os.Getenv("CC"), pack.DefaultBase) })
	if stubErr != nil {
		t.Fatal(stubErr)
	}
	k := &pack.Kernel{Entry: 0x2000, Segments: []pack.Segment{{Paddr: 0x1000, Data: make([]byte, 0x2000), Memsz: 0x9e000}}}
	img, _, err := pack.Pack(k, stub, pack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "low.elf")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	out, res, _ := boot(t, qemu.Config{Kernel: p, Machine: "q35", Memory: "256M"}, 60*time.Second)
	if !strings.Contains(out, "damselfly: packed image: hvm_start_info inside the kernel's span at 0x") {
		t.Errorf("console lacks the stub's start_info message:\n%s", out)
	}
	if res.Status != qemu.StatusFailure {
		t.Errorf("status %d, want %d", res.Status, qemu.StatusFailure)
	}
}
