package workload

import (
	"errors"
	"fmt"
	"time"
)

// FS is the part of a filesystem API the file benchmarks use. Names are
// slash-separated and relative to the benchmark's root.
type FS interface {
	Mkdir(name string) error
	Create(name string) (File, error) // create or truncate, read-write
	Open(name string) (File, error)   // read-only
	Stat(name string) error
	Remove(name string) error
	Sync() error // write back every dirty buffer of the filesystem
}

// File is an open file.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Close() error
}

// FSConfig shapes the file benchmarks.
type FSConfig struct {
	FileSize  int64 // bytes of the data file (a multiple of IOSize)
	IOSize    int   // bytes per read or write call
	MetaFiles int   // small files created, stat'ed and removed
	MetaSize  int   // bytes written into each small file
	Seed      uint64
	Now       func() time.Time
	// Remount drops every cache of the filesystem (in both guests:
	// unmount, drop the device's cached pages, mount again) and returns
	// the filesystem to use from then on. It is not timed.
	Remount func() (FS, error)
}

// FSSizes picks the file benchmark shape for a disk of the given size, the
// same in both guests: a data file of a quarter of the disk, at most
// 48 MiB, and one small file per 64 KiB of disk (100 to 2000). The cap
// keeps the warm read warm in both guests: Damselfly caches at most 64 MiB
// of each disk (kernel/devices: diskPoolPages), and a sequential pass
// over a larger file evicts every page before it is read again.
func FSSizes(disk int64) FSConfig {
	file := max(min(disk/4, 48<<20)&^(SeqIO-1), SeqIO)
	return FSConfig{FileSize: file, IOSize: SeqIO, MetaFiles: int(min(max(disk>>16, 100), 2000)), MetaSize: 1024, Seed: 1}
}

// Files runs, in this order, under the directory "fsbench" it creates:
//
//   - write: create "data", write FileSize bytes in IOSize calls, fsync and
//     close (the fsync is timed);
//   - read-cold: Remount, then read the file back (every block checked);
//   - read-warm: read it again, now cached;
//   - create: create MetaFiles files of MetaSize bytes in "meta", then sync
//     the filesystem (timed);
//   - stat: stat each of them;
//   - remove: remove each of them, then sync (timed).
//
// It removes what it made and returns the filesystem in use at the end
// (Remount replaces it), which the caller unmounts.
func Files(fsys FS, c FSConfig) ([]Result, FS, error) {
	if c.IOSize < Block || c.IOSize%Block != 0 || c.FileSize < int64(c.IOSize) || c.FileSize%int64(c.IOSize) != 0 {
		return nil, fsys, fmt.Errorf("workload: file of %d bytes in %d-byte calls: need multiples of %d", c.FileSize, c.IOSize, Block)
	}
	if c.MetaFiles < 1 || c.MetaSize < 0 || c.Now == nil || c.Remount == nil {
		return nil, fsys, errors.New("workload: bad file benchmark config (meta files, clock, remount)")
	}
	const dir, data, meta = "fsbench", "fsbench/data", "fsbench/meta"
	if err := fsys.Mkdir(dir); err != nil {
		return nil, fsys, fmt.Errorf("mkdir %s: %w", dir, err)
	}
	if err := fsys.Mkdir(meta); err != nil {
		return nil, fsys, fmt.Errorf("mkdir %s: %w", meta, err)
	}
	buf := make([]byte, c.IOSize)
	Fill(buf, c.Seed)
	calls := c.FileSize / int64(c.IOSize)
	var res []Result
	timed := func(name string, bytes, ops int64, fn func() error) error {
		start := c.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res = append(res, Result{Name: name, Bytes: bytes, Ops: ops, Elapsed: c.Now().Sub(start)})
		return nil
	}

	err := timed("write", c.FileSize, calls, func() error {
		f, err := fsys.Create(data)
		if err != nil {
			return err
		}
		for k := range calls {
			off := k * int64(c.IOSize)
			Stamp(buf, off, TagFile)
			if _, err := f.WriteAt(buf, off); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return res, fsys, err
	}
	readBack := func() error {
		f, err := fsys.Open(data)
		if err != nil {
			return err
		}
		defer f.Close()
		for k := range calls {
			off := k * int64(c.IOSize)
			if n, err := f.ReadAt(buf, off); n != len(buf) {
				return fmt.Errorf("read %d of %d bytes at %d: %v", n, len(buf), off, err)
			}
			if err := checkRange(buf, off, TagFile); err != nil {
				return err
			}
		}
		return nil
	}
	if fsys, err = c.Remount(); err != nil {
		return res, nil, fmt.Errorf("remount: %w", err)
	}
	if err := timed("read-cold", c.FileSize, calls, readBack); err != nil {
		return res, fsys, err
	}
	if err := timed("read-warm", c.FileSize, calls, readBack); err != nil {
		return res, fsys, err
	}

	name := func(i int) string { return fmt.Sprintf("%s/f%05d", meta, i) }
	small := buf[:c.MetaSize]
	n := int64(c.MetaFiles)
	err = timed("create", n*int64(c.MetaSize), n, func() error {
		for i := range c.MetaFiles {
			f, err := fsys.Create(name(i))
			if err != nil {
				return err
			}
			if _, err := f.WriteAt(small, 0); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
		return fsys.Sync()
	})
	if err != nil {
		return res, fsys, err
	}
	if err := timed("stat", 0, n, func() error {
		for i := range c.MetaFiles {
			if err := fsys.Stat(name(i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return res, fsys, err
	}
	if err := timed("remove", 0, n, func() error {
		for i := range c.MetaFiles {
			if err := fsys.Remove(name(i)); err != nil {
				return err
			}
		}
		return fsys.Sync()
	}); err != nil {
		return res, fsys, err
	}
	for _, p := range []string{data, meta, dir} {
		if err := fsys.Remove(p); err != nil {
			return res, fsys, fmt.Errorf("cleaning up: %w", err)
		}
	}
	return res, fsys, fsys.Sync()
}
