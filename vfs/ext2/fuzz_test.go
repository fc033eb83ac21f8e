package ext2

import (
	"errors"
	"io"
	"os"
	"testing"

	"damselfly/vfs"
)

// The fuzz targets feed corrupt metadata to each parser; the property is that every input
// yields a result or an error, never a panic or a hang.

func smallImage(f *testing.F) []byte {
	img, err := os.ReadFile("testdata/small.img")
	if err != nil {
		f.Fatal(err)
	}
	return img
}

func FuzzSuperblock(f *testing.F) {
	img := smallImage(f)
	f.Add(img[superblockOffset : superblockOffset+superblockSize])
	f.Add(make([]byte, superblockSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < superblockSize {
			b = append(b, make([]byte, superblockSize-len(b))...)
		}
		g, err := validateSuperblock(superblock(b[:superblockSize]), 1<<30)
		if err == nil && (g.groups == 0 || g.blockSize == 0) {
			t.Fatalf("accepted empty geometry %+v", g)
		}
		_ = writable(superblock(b[:superblockSize]))
	})
}

func FuzzGroupDescs(f *testing.F) {
	img := smallImage(f)
	f.Add(img[2048:3072])
	f.Fuzz(func(t *testing.T, table []byte) {
		g, err := validateSuperblock(superblock(img[superblockOffset:superblockOffset+superblockSize]), int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		_ = validateGroupDescs(&g, table)
	})
}

// mountFuzz mounts a mutated image and exercises every reader on it, with bounded work.
func exerciseImage(t *testing.T, img []byte) {
	fs, err := Mount(&memDev{b: img}, Options{ReadOnly: true, Now: fixedNow, CacheBlocks: 16})
	if err != nil {
		return
	}
	budget := 200
	var walk func(dir vfs.Ino, depth int)
	walk = func(dir vfs.Ino, depth int) {
		if depth > 8 || budget <= 0 {
			return
		}
		ents, _, err := fs.Readdir(dir, 0, 64)
		if err != nil {
			return
		}
		for _, e := range ents {
			budget--
			if budget <= 0 {
				return
			}
			res, err := fs.Lookup(dir, []string{e.Name})
			if err != nil || len(res) == 0 {
				continue
			}
			fs.Getattr(res[0].Ino)
			switch res[0].Type {
			case vfs.TypeDir:
				walk(res[0].Ino, depth+1)
			case vfs.TypeSymlink:
				fs.Readlink(res[0].Ino)
			case vfs.TypeRegular:
				buf := make([]byte, 8192)
				for off := int64(0); off < 64<<10; off += int64(len(buf)) {
					if _, err := fs.Read(res[0].Ino, buf, off); err != nil {
						if !errors.Is(err, io.EOF) {
							break
						}
						break
					}
				}
			}
		}
	}
	walk(fs.Root(), 0)
}

func FuzzImage(f *testing.F) {
	img := smallImage(f)
	f.Add(uint32(0), []byte{0})
	f.Add(uint32(2048+8), []byte{0xff, 0xff})        // group descriptor: inode table
	f.Add(uint32(5*1024+128+40), []byte{0x01, 0x10}) // an inode's block map
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		m := append([]byte(nil), img...)
		for i, b := range patch {
			m[(int(off)+i)%len(m)] ^= b
		}
		exerciseImage(t, m)
	})
}

// FuzzInodeBlockMap corrupts one inode record (block pointers, size, flags) of a real image and
// reads through its block map.
func FuzzInodeBlockMap(f *testing.F) {
	img := smallImage(f)
	fs0, err := Mount(&memDev{b: append([]byte(nil), img...)}, Options{ReadOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	res, err := fs0.Lookup(fs0.Root(), []string{"d", "b"})
	if err != nil {
		f.Fatal(err)
	}
	blk, off, _ := fs0.inodeLoc(uint32(res[len(res)-1].Ino))
	inoOff := int(blk)*1024 + off
	f.Add(img[inoOff : inoOff+128])
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := append([]byte(nil), img...)
		copy(m[inoOff:inoOff+128], raw)
		fs, err := Mount(&memDev{b: m}, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		ino := res[len(res)-1].Ino
		buf := make([]byte, 4096)
		for _, o := range []int64{0, 12 * 1024, 300 * 1024, 70000 * 1024} {
			fs.Read(ino, buf, o)
		}
		fs.Readlink(ino)
		fs.Readdir(ino, 0, 10)
		fs.Lookup(ino, []string{"x"})
	})
}

func FuzzDirBlock(f *testing.F) {
	img := smallImage(f)
	fs0, err := Mount(&memDev{b: append([]byte(nil), img...)}, Options{ReadOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	dp, _ := fs0.iget(rootIno)
	pb, b, err := fs0.dirBlock(dp, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, blk []byte) {
		if len(blk) > 1024 {
			blk = blk[:1024]
		}
		_ = walkDirBlock(blk, true, 16, func(dirent) bool { return true })
		_ = walkDirBlock(blk, false, 16, func(dirent) bool { return true })
		m := append([]byte(nil), img...)
		copy(m[int(pb)*1024:], blk)
		exerciseImage(t, m)
	})
}

// FuzzWriteImage mounts a patched image read-write (when it still validates) and runs a fixed
// sequence of changes on it: a corrupt-but-valid-looking image must give errors, not panics or
// hangs.
func FuzzWriteImage(f *testing.F) {
	img := smallImage(f)
	f.Add(uint32(0), []byte{0})
	f.Add(uint32(2048+12), []byte{0x40}) // group free block count
	f.Add(uint32(5*1024+40), []byte{0x07, 0x01})
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) { writeImageOps(img, off, patch) })
}

func writeImageOps(img []byte, off uint32, patch []byte) {
	{
		m := append([]byte(nil), img...)
		for i, b := range patch {
			m[(int(off)+i)%len(m)] ^= b
		}
		fs, err := Mount(&memDev{b: m}, Options{Now: fixedNow, CacheBlocks: 16})
		if err != nil {
			return
		}
		root := fs.Root()
		ino, err := fs.Create(root, "new", 0o644)
		if err == nil {
			fs.Write(ino, make([]byte, 5000), 100)
			fs.Truncate(ino, 10)
		}
		fs.Mkdir(root, "nd", 0o755)
		fs.Symlink(root, "sl", "a-long-target-that-needs-a-block-of-its-own-because-it-exceeds-sixty-bytes")
		if res, err := fs.Lookup(root, []string{"d"}); err == nil && len(res) == 1 {
			fs.Rename(root, "new", res[0].Ino, "moved")
			fs.Remove(res[0].Ino, "b")
			fs.Rename(res[0].Ino, "e", root, "e2")
		}
		fs.Remove(root, "a")
		fs.Rmdir(root, "nd")
		fs.Unmount()
	}
}
