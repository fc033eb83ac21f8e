package ext2

import (
	"bytes"
	"fmt"
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
	for i := 0; i < 50; i++ {
		if err := v.WriteFile(fmt.Sprintf("a/new%d", i), bytes.Repeat([]byte{byte(i)}, i*100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Rename("a/b", "moved"); err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(v.FS(), "a/one", "moved/two", "a/new49"); err != nil {
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
