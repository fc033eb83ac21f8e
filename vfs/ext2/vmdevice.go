package ext2

import "damselfly/vm"

// VMDevice runs the filesystem's I/O through a VM object, typically a blk.Disk's Object():
// every metadata and data transfer then goes through the disk's page cache with byte-granular
// range locks, and Flush writes the object's modified ranges back before flushing the device.
// This is the adapter the kernel uses; blk.Disk's raw ReadAt/WriteAt need sector alignment,
// which ext2's partial-block updates (an inode, a block pointer) do not have.
type VMDevice struct{ Obj *vm.Object }

func (d VMDevice) ReadAt(p []byte, off int64) (int, error)  { return d.Obj.ReadAt(p, off) }
func (d VMDevice) WriteAt(p []byte, off int64) (int, error) { return d.Obj.WriteAt(p, off) }
func (d VMDevice) Size() int64                              { return d.Obj.Size() }
func (d VMDevice) Flush() error                             { return d.Obj.Sync() }
