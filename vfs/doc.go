// Package vfs is Damselfly's virtual filesystem layer, after the "New VFS Model" of DragonFly's
// design goals: the kernel, not the filesystem, resolves paths.
//
// Path resolution. Every path is walked through the namecache (namecache.go) before any
// filesystem operation. Entries there are resolved (they name a node), negative (the name is
// known not to exist) or unresolved. The walk follows resolved entries, crosses mount points
// inside the cache, and hands only the unresolved tail of the path to the filesystem's Lookup,
// as a list of single components. A filesystem never sees a user-supplied path string.
//
// Invariant: a mount point and every one of its ancestors is resolved and pinned in the cache,
// so an unresolved tail never contains a mount point and a filesystem can resolve the whole tail
// in one message.
//
// VOPs as messages. Every operation on a mounted filesystem is a Msg sent to that mount's port
// (port.go). The port is served by a configurable number of filesystem threads (one per CPU by
// default). A filesystem that can complete an operation without blocking (memfs, embedfs, or
// anything that says so through FastPather) has it run directly in the caller's context, the
// synchronous fast path of DragonFly's lwkt_domsg. A filesystem may also attempt a message
// opportunistically (TryFaster: ext2 serves reads of resident pages this way). Otherwise the
// message is queued and the caller waits for the reply.
//
// Data. Read and write messages carry a kernel-owned byte range (an object range), never a
// caller's address; in a unikernel the two coincide physically, but the VOP contract is that the
// buffer belongs to the message for its lifetime.
//
// The application API (api.go, file.go, iofs.go) sits on top: Open, Create, ReadAt, WriteAt,
// ReadDir, Stat, Rename, Remove, Mkdir, Sync, and an io/fs.FS view. Errors are *fs.PathError
// wrapping an Errno whose Is method matches the io/fs sentinels.
package vfs
