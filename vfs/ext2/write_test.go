package ext2

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"damselfly/vfs"
	"damselfly/vfs/vfstest"
)

func TestRandomOpsAgainstModel(t *testing.T) {
	for _, bs := range []int{1024, 4096} {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			img := mkfs(t, bs, 32<<20, "")
			f := mount(t, img, false)
			m := vfstest.RandomOps(t, f, vfstest.Options{Seed: int64(bs) * 7, Ops: 600, BlockSize: bs, IgnoreRoot: []string{"lost+found"}})
			if err := f.Unmount(); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)
			// The image reads back the same after a fresh mount.
			m.Check(t, mount(t, img, true))
		})
	}
}

// TestWriteOnPopulatedImage changes a mke2fs -d image (including an htree-indexed directory
// produced by e2fsck -D) and checks it stays clean.
func TestWriteOnPopulatedImage(t *testing.T) {
	src := t.TempDir()
	genTree(t, src, 1024, false, 1200)
	img := mkfs(t, 1024, 96<<20, src, "-N", "8192")
	// Index the directories, as a disk touched by Linux's ext4 driver would have them.
	if out, err := exec.Command("e2fsck", "-fyD", img).CombinedOutput(); err != nil && !strings.Contains(string(out), "MODIFIED") {
		t.Logf("e2fsck -fyD: %v\n%s", err, out)
	}
	out, _ := exec.Command("debugfs", "-R", "htree /wide", img).CombinedOutput()
	indexed := !strings.Contains(string(out), "Not a hash-indexed")
	f := mount(t, img, false)
	wide := dirIno(t, f, "wide")
	for i := 0; i < 1200; i += 3 {
		if err := f.Remove(wide, fmt.Sprintf("entry-%04d-%s", i, strings.Repeat("x", i%40))); err != nil {
			t.Fatalf("remove %d: %v", i, err)
		}
	}
	for i := 0; i < 500; i++ {
		if _, err := f.Create(wide, fmt.Sprintf("new-%d", i), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := listAll(f, wide)
	if err != nil || len(ents) != 800+500 {
		t.Fatalf("wide lists %d entries (%v), want 1300", len(ents), err)
	}
	// Grow a file into the double-indirect region, shrink another.
	big := dirIno(t, f, "indirect/double")
	if err := f.Truncate(big, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(dirIno(t, f, "sizes/f1"), bytes.Repeat([]byte("q"), 400*1024), 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if indexed && f.Stats().IndexFlagsCleared == 0 {
		t.Errorf("htree directory changed but index flag never cleared")
	}
	t.Logf("wide was htree-indexed: %v; stats %+v", indexed, f.Stats())
	fsck(t, img)
}

// TestLargeFile writes past 4 GiB and checks i_size_high and the large_file feature.
func TestLargeFile(t *testing.T) {
	img := mkfs(t, 4096, 16<<20, "", "-O", "^large_file")
	f := mount(t, img, false)
	ino, err := f.Create(f.Root(), "big", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(5<<30 + 123)
	if _, err := f.Write(ino, []byte("tail"), off); err != nil {
		t.Fatal(err)
	}
	a, _ := f.Getattr(ino)
	if a.Size != off+4 {
		t.Fatalf("size %d, want %d", a.Size, off+4)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
	f = mount(t, img, true)
	buf := make([]byte, 10)
	n, _ := f.Read(ino, buf, off-6)
	if string(buf[:n]) != "\x00\x00\x00\x00\x00\x00tail" {
		t.Fatalf("read back %q", buf[:n])
	}
	if f.sb.FeatureRoCompat()&roCompatLargeFile == 0 {
		t.Fatal("large_file feature not set")
	}
}

// TestOpenUnlinked keeps an unlinked file readable until its last Close.
func TestOpenUnlinked(t *testing.T) {
	img := mkfs(t, 1024, 4<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "tmp", 0o644)
	f.Write(ino, bytes.Repeat([]byte("a"), 5000), 0)
	if err := f.Open(ino); err != nil {
		t.Fatal(err)
	}
	freeBefore := f.sb.FreeBlocksCount()
	if err := f.Remove(f.Root(), "tmp"); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(f, ino, 999); err != nil || len(got) != 5000 {
		t.Fatalf("unlinked open file reads %d bytes, %v", len(got), err)
	}
	if f.sb.FreeBlocksCount() != freeBefore {
		t.Fatal("blocks freed while still open")
	}
	if err := f.Close(ino); err != nil {
		t.Fatal(err)
	}
	if f.sb.FreeBlocksCount() <= freeBefore {
		t.Fatal("blocks not freed at last close")
	}
	f.Unmount()
	fsck(t, img)
}

// TestConcurrentFile runs writers on disjoint ranges of one file beside readers that check
// every range they read is one whole write (no torn reads), then checks the image.
func TestConcurrentFile(t *testing.T) {
	img := mkfs(t, 4096, 16<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "shared", 0o644)
	const chunk = 3*4096 + 100 // unaligned, spanning blocks
	const writers, rounds = 4, 40
	if _, err := f.Write(ino, make([]byte, chunk*writers), 0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, chunk)
			for i := 1; i <= rounds; i++ {
				for j := range buf {
					buf[j] = byte(w*rounds + i)
				}
				if _, err := f.Write(ino, buf, int64(w*chunk)); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	for rd := 0; rd < 3; rd++ {
		wg.Add(1)
		go func(rd int) {
			defer wg.Done()
			buf := make([]byte, chunk)
			for i := 0; i < rounds*2; i++ {
				w := (i + rd) % writers
				if _, err := f.Read(ino, buf, int64(w*chunk)); err != nil {
					errc <- err
					return
				}
				for j := range buf {
					if buf[j] != buf[0] {
						errc <- fmt.Errorf("torn read of range %d: byte %d is %d, byte 0 is %d", w, j, buf[j], buf[0])
						return
					}
				}
			}
		}(rd)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	got, _ := readAll(f, ino, 1<<16)
	for w := 0; w < writers; w++ {
		if got[w*chunk] != byte(w*rounds+rounds) {
			t.Errorf("range %d ends with round %d", w, got[w*chunk])
		}
	}
	f.Unmount()
	fsck(t, img)
}

// TestFillDisk runs out of space cleanly: ENOSPC, then everything freed again is consistent.
func TestFillDisk(t *testing.T) {
	img := mkfs(t, 1024, 2<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "fill", 0o644)
	var err error
	for off := int64(0); err == nil; off += 64 << 10 {
		_, err = f.Write(ino, make([]byte, 64<<10), off)
	}
	if !errors.Is(err, vfs.ENOSPC) {
		t.Fatalf("filling: %v, want ENOSPC", err)
	}
	f.Sync()
	fsck(t, img)
	if err := f.Remove(f.Root(), "fill"); err != nil {
		t.Fatal(err)
	}
	f.Unmount()
	fsck(t, img)
	_ = os.Remove
}

// TestConcurrentWritesShareBlock has many writers fill disjoint byte ranges of the same
// unallocated blocks; the zero padding of a freshly allocated block must never erase another
// writer's bytes.
func TestConcurrentWritesShareBlock(t *testing.T) {
	img := mkfs(t, 4096, 8<<20, "")
	f := mount(t, img, false)
	for round := 0; round < 5; round++ {
		ino, _ := f.Create(f.Root(), fmt.Sprintf("f%d", round), 0o644)
		const writers, piece = 8, 512 // eight writers share each 4 KiB block
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for blk := 0; blk < 4; blk++ {
					off := int64(blk*4096 + w*piece)
					f.Write(ino, bytes.Repeat([]byte{byte(w + 1)}, piece), off)
				}
			}(w)
		}
		wg.Wait()
		got, _ := readAll(f, ino, 1<<16)
		for i, b := range got {
			if want := byte((i%4096)/piece + 1); b != want {
				t.Fatalf("round %d: byte %d is %d, want %d", round, i, b, want)
			}
		}
	}
	f.Unmount()
	fsck(t, img)
}

// TestUnmountReleasesOrphans unmounts with an unlinked file still open: the unmount frees it,
// so e2fsck finds no orphan.
func TestUnmountReleasesOrphans(t *testing.T) {
	img := mkfs(t, 1024, 4<<20, "")
	f := mount(t, img, false)
	ino, _ := f.Create(f.Root(), "orphan", 0o644)
	f.Write(ino, make([]byte, 20000), 0)
	f.Open(ino)
	if err := f.Remove(f.Root(), "orphan"); err != nil {
		t.Fatal(err)
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}

// TestEpochClock: a guest whose wall clock still reads the epoch (1970) must
// leave a clean filesystem too. A freed inode with dtime 0 looks in use to
// e2fsck ("deleted inode has zero dtime").
func TestEpochClock(t *testing.T) {
	src := t.TempDir()
	for _, n := range []string{"a.del", "b.del"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte("data of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := mkfs(t, 1024, 8<<20, src)
	f, err := Mount(openDev(t, img), Options{Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	root := dirIno(t, f, "/")
	for _, n := range []string{"a.del", "b.del"} {
		if err := f.Remove(root, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}
