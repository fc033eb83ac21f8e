package vfs

// Filesystem is what a filesystem implements to be mounted. The VFS calls these methods only
// from the mount's filesystem threads (or from the caller's context for fast-path operations),
// and always with names that are single path components: never "", ".", "..", or anything
// containing '/'.
//
// Implementations must be safe for concurrent use: a mount runs several filesystem threads.
// Errors should wrap an Errno so the VFS can classify them.
type Filesystem interface {
	// Root returns the root directory's node.
	Root() Ino

	// Lookup resolves the unresolved tail of a path, starting in directory dir. It returns one
	// result per component resolved, stopping after a symlink or a non-directory (the VFS
	// decides what follows), or at the first missing component, in which case it returns the
	// results so far and an error wrapping ENOENT.
	Lookup(dir Ino, names []string) ([]LookupResult, error)

	Getattr(ino Ino) (Attr, error)
	Setattr(ino Ino, set SetAttr) error

	// Read and Write move data between the node at byte offset off and the message's buffer.
	// Read returns io.EOF only when off is at or past the end of the file.
	Read(ino Ino, p []byte, off int64) (int, error)
	Write(ino Ino, p []byte, off int64) (int, error)
	Truncate(ino Ino, size int64) error

	Create(dir Ino, name string, perm uint32) (Ino, error)
	Mkdir(dir Ino, name string, perm uint32) (Ino, error)
	Symlink(dir Ino, name, target string) (Ino, error)
	Link(ino Ino, dir Ino, name string) error
	Remove(dir Ino, name string) error
	Rmdir(dir Ino, name string) error
	// Rename moves fromDir/fromName to toDir/toName, replacing a target of a compatible kind
	// (file over file, empty directory over directory).
	Rename(fromDir Ino, fromName string, toDir Ino, toName string) error

	// Readdir returns up to max entries starting at cookie (0 = beginning) and the cookie to
	// continue from; an empty result means the end.
	Readdir(dir Ino, cookie uint64, max int) ([]DirEntry, uint64, error)
	Readlink(ino Ino) (string, error)

	// Open and Close bracket the use of a node by an open file, so that a node unlinked while
	// open keeps its data until the last Close.
	Open(ino Ino) error
	Close(ino Ino) error

	Fsync(ino Ino) error
	// Sync writes every dirty buffer and metadata to stable storage.
	Sync() error
	// Unmount syncs and releases the filesystem; no call follows it.
	Unmount() error
}

// FastPather is implemented by filesystems that can tell, per message, whether it would
// complete without blocking (on I/O; short lock waits are allowed); such messages run in the
// sender's context (the synchronous fast path) instead of being queued to a filesystem
// thread. The check must itself not block; a false answer merely queues the message.
type FastPather interface {
	CanFastPath(m *Msg) bool
}

// ReadOnlyReporter is implemented by filesystems that are read-only by nature (embedfs) or by
// having refused write access at mount time (an ext2 disk with a read-only-compatible feature
// it cannot maintain); the VFS then treats the mount as read-only whatever was asked.
type ReadOnlyReporter interface {
	ReadOnly() bool
}

// TryFaster is implemented by filesystems that can attempt a message without blocking: if
// everything it needs is in memory (cached pages, cached metadata, uncontended locks) it
// completes the message, setting its results, and returns true; otherwise it returns false
// having changed nothing the queued execution depends on, and the message is queued. This is
// how cached reads of a disk filesystem run in the sender's context.
type TryFaster interface {
	TryFastPath(m *Msg) bool
}
