package ext2

import (
	"bytes"
	"fmt"
	"math/rand"
	"os/exec"
	"sync"
	"testing"

	"damselfly/vfs"
)

// cutDev simulates power loss: the first cut writes reach the image file; every later write
// is kept only in memory (an overlay the running filesystem still reads back), so the file on
// disk is what a machine switched off at that moment would have left.
type cutDev struct {
	*fileDev
	cut int

	mu       sync.Mutex
	writes   int
	overlay  []overlayWrite
	syncedAt map[string]int // file -> writes issued when its Sync returned
}

func (d *cutDev) markSynced(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.syncedAt == nil {
		d.syncedAt = map[string]int{}
	}
	d.syncedAt[name] = d.writes
}

type overlayWrite struct {
	off  int64
	data []byte
}

func (d *cutDev) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes++
	if d.writes <= d.cut {
		return d.fileDev.WriteAt(p, off)
	}
	if d.writes == d.cut+1 && len(p) > 512 {
		// The write in flight at the cut is torn at a sector boundary.
		if _, err := d.fileDev.WriteAt(p[:len(p)/1024*512], off); err != nil {
			return 0, err
		}
	}
	d.overlay = append(d.overlay, overlayWrite{off, append([]byte(nil), p...)})
	return len(p), nil
}

func (d *cutDev) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.fileDev.ReadAt(p, off)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.overlay {
		lo, hi := max(off, w.off), min(off+int64(len(p)), w.off+int64(len(w.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], w.data[lo-w.off:hi-w.off])
		}
	}
	return n, err
}

// TestCrashRecovery cuts the power at several points of a write workload that syncs after
// each file; e2fsck -fy must repair the image, after which e2fsck -fn is clean and every file
// synced before the cut reads back intact.
func TestCrashRecovery(t *testing.T) {
	needTools(t)
	// Count the writes of an uninterrupted run to place the cuts inside it.
	run := func(dev *cutDev, seed int64) (synced map[string][]byte) {
		synced = map[string][]byte{}
		f, err := Mount(dev, Options{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		v := vfs.New(f, vfs.MountOptions{Threads: 1}, vfs.Config{})
		r := rand.New(rand.NewSource(seed))
		v.Mkdir("d", 0o755)
		for i := 0; i < 30; i++ {
			name := fmt.Sprintf("d/f%d", i)
			data := make([]byte, r.Intn(40000))
			r.Read(data)
			file, err := v.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			file.WriteAt(data, 0)
			if i%3 == 0 { // an unsynced overwrite of an older file's neighbour region
				v.WriteFile(fmt.Sprintf("d/scratch%d", i), data[:len(data)/2], 0o644)
			}
			if err := file.Sync(); err != nil {
				t.Fatal(err)
			}
			dev.markSynced(name)
			file.Close()
			synced[name] = data
			if i%5 == 4 { // unsynced churn after the sync
				v.Remove(fmt.Sprintf("d/scratch%d", i-4))
				v.Rename(fmt.Sprintf("d/scratch%d", i-1), fmt.Sprintf("d/moved%d", i))
			}
		}
		return synced
	}
	img := mkfs(t, 1024, 8<<20, "")
	probe := &cutDev{fileDev: openDev(t, img), cut: 1 << 30}
	run(probe, 1)
	total := probe.writes
	if total < 100 {
		t.Fatalf("workload made only %d writes", total)
	}
	for _, frac := range []int{7, 31, 53, 77, 96} {
		cut := total * frac / 100
		t.Run(fmt.Sprintf("cut-at-%d-of-%d", cut, total), func(t *testing.T) {
			img := mkfs(t, 1024, 8<<20, "")
			dev := &cutDev{fileDev: openDev(t, img), cut: cut}
			all := run(dev, 1)
			out, err := exec.Command("e2fsck", "-fy", img).CombinedOutput()
			code := exitCode(err)
			if code >= 4 {
				t.Fatalf("e2fsck -fy exit %d:\n%s", code, out)
			}
			fsck(t, img)
			f := mount(t, img, true)
			intact, lost := 0, 0
			for name, want := range all {
				ino, _, err := resolve(f, name)
				if err != nil {
					lost++
					if syncedBefore(name, dev) {
						t.Errorf("%s: synced before the cut but lost: %v", name, err)
					}
					continue
				}
				got, err := readAll(f, ino, 8192)
				if err != nil || !bytes.Equal(got, want) {
					// Present but wrong is acceptable only for a file not yet synced.
					if syncedBefore(name, dev) {
						t.Errorf("%s: synced before the cut but reads %d bytes (%v), want %d", name, len(got), err, len(want))
					}
					continue
				}
				intact++
			}
			t.Logf("cut after %d of %d writes: e2fsck -fy exit %d, %d files intact, %d absent", cut, total, code, intact, lost)
		})
	}
}

// syncedBefore reports whether name's Sync completed before the cut.
func syncedBefore(name string, dev *cutDev) bool {
	n, ok := dev.syncedAt[name]
	return ok && n <= dev.cut
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 255
}
