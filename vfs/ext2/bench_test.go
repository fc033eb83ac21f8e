//go:build !tamago

// The benchmarks read image files through blk.OpenFile, a host-only device.

package ext2

import (
	"fmt"
	"testing"

	"damselfly/blk"
	"damselfly/vfs"
	"damselfly/vfs/memfs"
)

// Benchmarks run through the application API (vfs) on an ext2 image file on the host, so
// they include the namecache, the VOP port and the filesystem. docs/vfs.md records figures.

func benchVFS(b *testing.B, bs int) *vfs.VFS {
	img := mkfs(b, bs, 512<<20, "")
	f, err := Mount(openDev(b, img), Options{})
	if err != nil {
		b.Fatal(err)
	}
	v := vfs.New(f, vfs.MountOptions{}, vfs.Config{})
	b.Cleanup(func() { v.Close() })
	return v
}

const benchFile = 64 << 20

func benchWrite(b *testing.B, v *vfs.VFS, chunk int) {
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i)
	}
	f, err := v.Create("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(chunk))
	off := int64(0)
	for b.Loop() {
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		off = (off + int64(chunk)) % benchFile
	}
}

func benchRead(b *testing.B, v *vfs.VFS, chunk int) {
	f, err := v.Create("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	big := make([]byte, 1<<20)
	for off := int64(0); off < benchFile; off += int64(len(big)) {
		if _, err := f.WriteAt(big, off); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, chunk)
	b.SetBytes(int64(chunk))
	off := int64(0)
	for b.Loop() {
		if _, err := f.ReadAt(buf, off); err != nil {
			b.Fatal(err)
		}
		off = (off + int64(chunk)) % benchFile
	}
}

func BenchmarkExt2SeqWrite1M(b *testing.B) { benchWrite(b, benchVFS(b, 4096), 1<<20) }
func BenchmarkExt2SeqWrite4K(b *testing.B) { benchWrite(b, benchVFS(b, 4096), 4096) }
func BenchmarkExt2SeqRead1M(b *testing.B)  { benchRead(b, benchVFS(b, 4096), 1<<20) }
func BenchmarkExt2SeqRead4K(b *testing.B)  { benchRead(b, benchVFS(b, 4096), 4096) }
func BenchmarkExt2SeqRead1M1KBlocks(b *testing.B) {
	benchRead(b, benchVFS(b, 1024), 1<<20)
}

// BenchmarkExt2CreateRemove measures metadata operations: one op = create + remove of an
// empty file in a directory holding 1000 others.
func BenchmarkExt2CreateRemove(b *testing.B) { benchCreateRemove(b, benchVFS(b, 4096)) }

func BenchmarkMemfsCreateRemove(b *testing.B) {
	v := vfs.New(memfs.New(nil), vfs.MountOptions{}, vfs.Config{})
	defer v.Close()
	benchCreateRemove(b, v)
}

func benchCreateRemove(b *testing.B, v *vfs.VFS) {
	if err := v.Mkdir("d", 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if err := v.WriteFile(fmt.Sprintf("d/f%d", i), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("d/new%d", i%64)
		f, err := v.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := v.Remove(name); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkExt2StatCached measures a Stat whose path is resolved in the namecache.
func BenchmarkExt2StatCached(b *testing.B) {
	v := benchVFS(b, 4096)
	v.MkdirAll("a/b/c", 0o755)
	v.WriteFile("a/b/c/f", nil, 0o644)
	for b.Loop() {
		if _, err := v.Stat("a/b/c/f"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemfsSeqWrite1M(b *testing.B) {
	v := vfs.New(memfs.New(nil), vfs.MountOptions{}, vfs.Config{})
	defer v.Close()
	benchWrite(b, v, 1<<20)
}

func BenchmarkMemfsSeqRead1M(b *testing.B) {
	v := vfs.New(memfs.New(nil), vfs.MountOptions{}, vfs.Config{})
	defer v.Close()
	benchRead(b, v, 1<<20)
}

// benchBlkVFS mounts through blk (file driver, device thread) and its VM object, as the
// kernel does.
func benchBlkVFS(b *testing.B) *vfs.VFS {
	img := mkfs(b, 4096, 512<<20, "")
	drv, err := blk.OpenFile("vda", img, false)
	if err != nil {
		b.Fatal(err)
	}
	disk := blk.NewDisk(drv, blk.Config{})
	f, err := Mount(VMDevice{Obj: disk.Object()}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	v := vfs.New(f, vfs.MountOptions{}, vfs.Config{})
	b.Cleanup(func() { v.Close(); disk.Close() })
	return v
}

func BenchmarkExt2BlkSeqWrite1M(b *testing.B) { benchWrite(b, benchBlkVFS(b), 1<<20) }
func BenchmarkExt2BlkSeqRead1M(b *testing.B)  { benchRead(b, benchBlkVFS(b), 1<<20) }
func BenchmarkExt2BlkCreateRemove(b *testing.B) {
	benchCreateRemove(b, benchBlkVFS(b))
}
func BenchmarkExt2BlkSeqRead4K(b *testing.B) { benchRead(b, benchBlkVFS(b), 4096) }
