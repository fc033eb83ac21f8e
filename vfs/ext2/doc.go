// Package ext2 reads and writes the second extended filesystem (revision 0 and 1, block sizes
// 1, 2 and 4 KiB) on a byte-addressed device, so that disks prepared with `mke2fs -t ext2 -d`
// can be used and then checked with `e2fsck -fn` and `debugfs`.
//
// On-disk layout follows "The Second Extended File System" (Poirier) and the ext4 disk layout
// documentation (kernel.org, Documentation/filesystems/ext4); structure offsets are cited
// beside each view (superblock.go, groupdesc.go, inode.go, dirent.go).
//
// Validation first. Mount parses and checks the superblock and every group descriptor before
// anything else; a disk that fails (bad magic, unsupported incompatible features such as
// extents, 64bit, meta_bg or a journal needing recovery, geometry that does not add up) is
// refused with the reason. Write access is granted only when every incompatible and
// read-only-compatible feature is one this package maintains and the disk was cleanly
// unmounted; otherwise a read-write mount is refused (a read-only mount may still succeed).
// Nothing is written to a disk before it has been validated.
//
// Directories are linear. An htree-indexed directory (dir_index) is read linearly, which the
// htree format allows (index blocks look like empty directory blocks); the first change to such
// a directory clears its EXT2_INDEX_FL flag, leaving a valid linear directory that e2fsck
// accepts and that e2fsck -D can re-index.
//
// Locking, outermost first:
//   - FS.nsMu: the namespace (directory contents, link counts). Shared for lookups and
//     readdir, exclusive for create/remove/rename/link.
//   - inode.rl: a byte-range lock on a file's data; reads take ranges shared, writes
//     exclusive, truncation the whole file. Disjoint writes to one file run in parallel.
//   - inode.mu: the inode's fields and block map.
//   - FS.allocMu: bitmaps, group descriptor counts, superblock counts.
//   - bcache.mu, FS.icMu: leaf locks.
//
// Bounding. Every loop over on-disk data is bounded by a quantity validated at mount (blocks
// per directory from its size, indirection depth three, entries per block from the block
// size), so a corrupt image yields an error, never a hang or a panic.
package ext2
