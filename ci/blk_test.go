package ci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"damselfly/qemu"
)

const sector = 512

var blkRE = regexp.MustCompile(`(?m)^blk: sha256=([0-9a-f]{64}) bytes=(\d+)\r?$`)

// makeImage writes a disk image of size bytes: random data in a few places
// (the start, the middle, the end) and holes elsewhere, so that large images
// stay sparse on the host but every region the copy touches is checked.
func makeImage(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(size), 7))
	chunk := min(size/4, 1<<20)
	for _, off := range []int64{0, size/2 - chunk/2, size - chunk} {
		b := make([]byte, chunk)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkCopy verifies the image after selftest=blk: the second half (in whole
// sectors) equals the original first half, and an odd last sector is the
// original one.
func checkCopy(t *testing.T, path string, orig []byte, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sectors := size / sector
	half := sectors / 2 * sector
	const step = 1 << 20
	a, b := make([]byte, step), make([]byte, step)
	for off := int64(0); off < half; off += step {
		n := min(step, half-off)
		if _, err := f.ReadAt(a[:n], off); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ReadAt(b[:n], half+off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			t.Fatalf("second half differs from the first at offset %d", half+off)
		}
	}
	if orig != nil {
		if _, err := f.ReadAt(a[:len(orig)], 0); err != nil || !bytes.Equal(a[:len(orig)], orig) {
			t.Fatalf("first half changed (%v)", err)
		}
	}
	if tail := size - 2*half; tail > 0 {
		got := make([]byte, tail)
		if _, err := f.ReadAt(got, 2*half); err != nil {
			t.Fatal(err)
		}
		if want := origTail(t, size, tail); !bytes.Equal(got, want) {
			t.Fatalf("the last %d bytes (odd sector) changed", tail)
		}
	}
}

// origTail regenerates the last tail bytes of makeImage's content.
func origTail(t *testing.T, size, tail int64) []byte {
	t.Helper()
	p := makeImage(t, size)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, tail)
	if _, err := f.ReadAt(b, size-tail); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBootBlk runs selftest=blk on disks of 1 MiB + 512 B (an odd number of
// sectors), 64 MiB and 5 GiB (sparse, beyond 32-bit offsets; about 4 minutes
// under TCG; DAMSELFLY_SHORT=1 leaves it out): the guest's digest of the disk
// at boot must match the image's, and after power-off the second half must
// hold a copy of the first. make test-boot runs it in a go test process of
// its own, beside the other boot tests from their start (Makefile,
// acquireVM).
func TestBootBlk(t *testing.T) {
	// In a plain go test ./ci/ it still overlaps the other parallel
	// tests, which go test starts after the sequential ones.
	t.Parallel()
	sizes := []int64{1<<20 + 512, 64 << 20}
	if os.Getenv("DAMSELFLY_SHORT") == "" {
		sizes = append(sizes, 5<<30)
	}
	for _, size := range sizes {
		size := size
		t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
			t.Parallel()
			img := makeImage(t, size)
			want := fileSHA256(t, img)
			origHead := make([]byte, min(size/sector/2*sector, 1<<20))
			if f, err := os.Open(img); err == nil {
				f.ReadAt(origHead, 0)
				f.Close()
			}
			// A hang guard, not a speed check: 257 s for 5 GiB on a quiet
			// machine, 593 s at load 8-11, and make test-boot runs it
			// beside the other boot tests.
			timeout := 120*time.Second + time.Duration(size>>20)*200*time.Millisecond
			out, res, err := boot(t, qemu.Config{SMP: 2, Memory: "512M", Disks: []string{img}, Append: "selftest=blk poweroff"}, timeout)
			if err != nil {
				t.Fatalf("%v (status %d)", err, res.Status)
			}
			m := blkRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatal("no blk: sha256= line")
			}
			if m[1] != want || m[2] != fmt.Sprint(size) {
				t.Fatalf("guest read sha256=%s bytes=%s, image has sha256=%s bytes=%d", m[1], m[2], want, size)
			}
			if res.Status != qemu.StatusSuccess {
				t.Fatalf("status %d", res.Status)
			}
			checkCopy(t, img, origHead, size)
		})
	}
}
