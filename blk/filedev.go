//go:build !tamago

package blk

import (
	"fmt"
	"os"
)

// FileDevice is a disk image file on the host (tests, tools). Requests run
// on their own goroutines with pread/pwrite, so many are in flight. The
// file may be sparse and larger than 4 GiB; a size that is not a multiple
// of 512 is rounded down (the tail is not addressable, as on virtio-blk
// whose capacity counts 512-byte sectors).
type FileDevice struct {
	name string
	f    *os.File
	size int64
	ro   bool
}

// OpenFile opens path as a block device.
func OpenFile(name, path string, readOnly bool) (*FileDevice, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("blk: %s: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blk: %s: %w", name, err)
	}
	return &FileDevice{name: name, f: f, size: st.Size() &^ 511, ro: readOnly}, nil
}

func (d *FileDevice) Name() string   { return d.name }
func (d *FileDevice) Size() int64    { return d.size }
func (d *FileDevice) ReadOnly() bool { return d.ro }
func (d *FileDevice) Close() error   { return d.f.Close() }

func (d *FileDevice) Limits() Limits {
	return Limits{SectorSize: 512, MaxTransfer: 1 << 20, MaxSegments: 256, QueueDepth: 16, Flush: true}
}

func (d *FileDevice) Submit(r *Request) { go d.do(r) }

func (d *FileDevice) do(r *Request) {
	var err error
	off := r.Off
	switch r.Op {
	case OpRead:
		for _, s := range r.Segs {
			var n int
			if n, err = d.f.ReadAt(s, off); err != nil {
				break
			}
			off += int64(n)
		}
	case OpWrite:
		for _, s := range r.Segs {
			var n int
			if n, err = d.f.WriteAt(s, off); err != nil {
				break
			}
			off += int64(n)
		}
	case OpFlush:
		err = d.f.Sync()
	default:
		err = ErrUnsupported
	}
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrIO, err)
	}
	r.Complete(err)
}
