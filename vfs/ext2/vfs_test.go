package ext2

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"

	"damselfly/blk"
	"damselfly/vfs"
)

// TestFSTestExt2 runs testing/fstest over the io/fs view of a VFS whose root is an ext2 image,
// first as mke2fs built it, then after writing through the VFS.
func TestFSTestExt2(t *testing.T) {
	src := t.TempDir()
	genSmallTree(t, src)
	img := mkfs(t, 1024, 8<<20, src)
	f := mount(t, img, false)
	v := vfs.New(f, vfs.MountOptions{Threads: 2}, vfs.Config{})
	if err := fstest.TestFS(v.FS(), "a/one", "a/b/two", "top", "lost+found"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if err := v.WriteFile(fmt.Sprintf("a/new%d", i), bytes.Repeat([]byte{byte(i)}, i*100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Rename("a/b", "moved"); err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(v.FS(), "a/one", "moved/two", "a/new11"); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}

func genSmallTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{"a/one": "1", "a/b/two": "22", "top": "top"}
	for name, data := range files {
		p := dir + "/" + name
		if err := mkdirFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVMDeviceOverBlk mounts an image through blk (file driver, device thread, VM object) the
// way the kernel does, writes through the VFS and checks the result with e2fsck.
func TestVMDeviceOverBlk(t *testing.T) {
	src := t.TempDir()
	genSmallTree(t, src)
	img := mkfs(t, 4096, 16<<20, src)
	drv, err := blk.OpenFile("vda", img, false)
	if err != nil {
		t.Fatal(err)
	}
	disk := blk.NewDisk(drv, blk.Config{})
	defer disk.Close()
	f, err := Mount(VMDevice{Obj: disk.Object()}, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New(f, vfs.MountOptions{}, vfs.Config{})
	data := bytes.Repeat([]byte("0123456789"), 100000)
	if err := v.WriteFile("a/big", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := v.ReadFile("a/big"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}

// TestConcurrentNamespace runs namespace changes in several directories at once beside
// readers walking the tree, then checks the image.
func TestConcurrentNamespace(t *testing.T) {
	img := mkfs(t, 1024, 16<<20, "")
	f := mount(t, img, false)
	v := vfs.New(f, vfs.MountOptions{Threads: 3}, vfs.Config{NamecacheMax: 64})
	const workers, rounds = 3, 40
	var wg sync.WaitGroup
	errc := make(chan error, workers+1)
	for w := 0; w < workers; w++ {
		if err := v.Mkdir(fmt.Sprintf("w%d", w), 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				p := fmt.Sprintf("w%d/f%d", w, i)
				if err := v.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 100*i), 0o644); err != nil {
					errc <- err
					return
				}
				if err := v.Mkdir(fmt.Sprintf("w%d/d%d", w, i), 0o755); err != nil {
					errc <- err
					return
				}
				if err := v.Rename(p, fmt.Sprintf("w%d/d%d/g", w, i)); err != nil {
					errc <- err
					return
				}
				if i%2 == 0 {
					if err := v.Remove(fmt.Sprintf("w%d/d%d/g", w, i)); err != nil {
						errc <- err
						return
					}
					if err := v.Remove(fmt.Sprintf("w%d/d%d", w, i)); err != nil {
						errc <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			err := fs.WalkDir(v.FS(), ".", func(p string, d fs.DirEntry, err error) error {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed while walking
				}
				return err
			})
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for w := 0; w < workers; w++ {
		ents, err := v.ReadDir(fmt.Sprintf("w%d", w))
		if err != nil || len(ents) != rounds/2 {
			t.Fatalf("w%d has %d entries (%v), want %d", w, len(ents), err, rounds/2)
		}
		b, err := v.ReadFile(fmt.Sprintf("w%d/d%d/g", w, rounds-1))
		if err != nil || len(b) != 100*(rounds-1) {
			t.Fatalf("moved file: %d bytes, %v", len(b), err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}

// TestCachedReadsFastPath reads through the kernel's device stack (blk + VM object): reads of
// resident data complete on the fast path in the caller's context, stay correct while a writer
// rewrites ranges beside them, and never see half a write.
func TestCachedReadsFastPath(t *testing.T) {
	img := mkfs(t, 4096, 16<<20, "")
	drv, err := blk.OpenFile("vda", img, false)
	if err != nil {
		t.Fatal(err)
	}
	disk := blk.NewDisk(drv, blk.Config{})
	defer disk.Close()
	f, err := Mount(VMDevice{Obj: disk.Object()}, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New(f, vfs.MountOptions{Threads: 2}, vfs.Config{})
	const chunk, chunks = 10000, 40
	file, err := v.Create("data")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < chunks; i++ {
		file.WriteAt(bytes.Repeat([]byte{byte(i)}, chunk), int64(i*chunk))
	}
	port := v.Mounts()[0].Port()
	fast0 := port.FastPath.Load()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Add(1)
	go func() { // rewrites even chunks with a new value
		defer wg.Done()
		for round := 1; round <= 20; round++ {
			for i := 0; i < chunks; i += 2 {
				if _, err := file.WriteAt(bytes.Repeat([]byte{byte(100 + round)}, chunk), int64(i*chunk)); err != nil {
					errc <- err
					return
				}
			}
		}
	}()
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, chunk)
			for round := 0; round < 20; round++ {
				for i := 0; i < chunks; i++ {
					if _, err := file.ReadAt(buf, int64(i*chunk)); err != nil {
						errc <- err
						return
					}
					for j := range buf {
						if buf[j] != buf[0] {
							errc <- fmt.Errorf("chunk %d torn: byte %d = %d, byte 0 = %d", i, j, buf[j], buf[0])
							return
						}
					}
					if i%2 == 1 && buf[0] != byte(i) {
						errc <- fmt.Errorf("chunk %d reads %d", i, buf[0])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if port.FastPath.Load() == fast0 {
		t.Fatal("no read completed on the fast path")
	}
	t.Logf("fast path %d, queued %d", port.FastPath.Load()-fast0, port.Queued.Load())
	file.Close()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}
