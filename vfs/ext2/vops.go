package ext2

import (
	"fmt"
	"time"

	"damselfly/vfs"
)

// The vfs.Filesystem implementation. Names arrive as single components checked by the VFS;
// they are checked again here (length, '/', NUL, "." and "..") because the disk format must
// never hold a malformed entry whoever the caller is.

var _ vfs.Filesystem = (*FS)(nil)

func checkName(name string) error {
	if len(name) == 0 || name == "." || name == ".." {
		return fmt.Errorf("ext2: name %q: %w", name, vfs.EINVAL)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("ext2: name of %d bytes: %w", len(name), vfs.ENAMETOOLONG)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return fmt.Errorf("ext2: name %q: %w", name, vfs.EINVAL)
		}
	}
	return nil
}

func toIno(i vfs.Ino) uint32 {
	if i > vfs.Ino(^uint32(0)) {
		return 0 // out of range: iget rejects 0
	}
	return uint32(i)
}

// Root returns the root directory inode (2).
func (f *FS) Root() vfs.Ino { return rootIno }

// getDir returns a referenced directory inode.
func (f *FS) getDir(dir vfs.Ino) (*inode, error) {
	dp, err := f.iget(toIno(dir))
	if err != nil {
		return nil, err
	}
	if dp.raw.Mode()&sIFMT != sIFDIR {
		f.iput(dp)
		return nil, fmt.Errorf("ext2: inode %d: %w", dir, vfs.ENOTDIR)
	}
	return dp, nil
}

// Lookup resolves a tail of components from dir in one message (vfs.Filesystem).
func (f *FS) Lookup(dir vfs.Ino, names []string) ([]vfs.LookupResult, error) {
	f.nsMu.RLock()
	defer f.nsMu.RUnlock()
	out := make([]vfs.LookupResult, 0, len(names))
	cur := dir
	for _, name := range names {
		if err := checkName(name); err != nil {
			return out, err
		}
		dp, err := f.getDir(cur)
		if err != nil {
			return out, err
		}
		loc, err := f.findEntry(dp, name)
		f.iput(dp)
		if err != nil {
			return out, err
		}
		raw, err := f.readRawInode(loc.ino)
		if err != nil {
			return out, err
		}
		if raw.LinksCount() == 0 {
			return out, corrupt("directory %d: entry %q names free inode %d", cur, name, loc.ino)
		}
		t := raw.Type()
		out = append(out, vfs.LookupResult{Ino: vfs.Ino(loc.ino), Type: t})
		if t != vfs.TypeDir {
			break
		}
		cur = vfs.Ino(loc.ino)
	}
	return out, nil
}

// Getattr returns a node's attributes.
func (f *FS) Getattr(ino vfs.Ino) (vfs.Attr, error) {
	ip, err := f.iget(toIno(ino))
	if err != nil {
		return vfs.Attr{}, err
	}
	defer f.iput(ip)
	ip.mu.RLock()
	defer ip.mu.RUnlock()
	r := ip.raw
	return vfs.Attr{
		Ino:    ino,
		Type:   r.Type(),
		Perm:   modePerm(r.Mode()),
		Nlink:  uint32(r.LinksCount()),
		UID:    r.UID(),
		GID:    r.GID(),
		Size:   r.Size(),
		Blocks: int64(r.Blocks()) * 512,
		Atime:  time.Unix(int64(r.Atime()), 0),
		Mtime:  time.Unix(int64(r.Mtime()), 0),
		Ctime:  time.Unix(int64(r.Ctime()), 0),
	}, nil
}

// Setattr changes permissions, owners, times and (through Truncate) size.
func (f *FS) Setattr(ino vfs.Ino, set vfs.SetAttr) error {
	if err := f.checkWritable(); err != nil {
		return err
	}
	ip, err := f.iget(toIno(ino))
	if err != nil {
		return err
	}
	defer f.iput(ip)
	if set.Size != nil {
		if ip.raw.Mode()&sIFMT != sIFREG {
			return fmt.Errorf("ext2: truncate inode %d: %w", ino, vfs.EINVAL)
		}
		if err := f.truncate(ip, *set.Size); err != nil {
			return err
		}
	}
	ip.mu.Lock()
	defer ip.mu.Unlock()
	r := ip.raw
	if set.Perm != nil {
		r.setMode(r.Mode()&sIFMT | permBits(*set.Perm))
	}
	if set.UID != nil {
		r.setUID(*set.UID)
	}
	if set.GID != nil {
		r.setGID(*set.GID)
	}
	if set.Atime != nil {
		r.setAtime(uint32(set.Atime.Unix()))
	}
	if set.Mtime != nil {
		r.setMtime(uint32(set.Mtime.Unix()))
	}
	r.setCtime(uint32(f.now().Unix()))
	return f.writeInode(ip)
}

// Read reads file data.
func (f *FS) Read(ino vfs.Ino, p []byte, off int64) (int, error) {
	ip, err := f.iget(toIno(ino))
	if err != nil {
		return 0, err
	}
	defer f.iput(ip)
	if t := ip.raw.Type(); t != vfs.TypeRegular {
		if t == vfs.TypeDir {
			return 0, fmt.Errorf("ext2: read inode %d: %w", ino, vfs.EISDIR)
		}
		return 0, fmt.Errorf("ext2: read inode %d: %w", ino, vfs.EINVAL)
	}
	return f.readData(ip, p, off)
}

// Write writes file data.
func (f *FS) Write(ino vfs.Ino, p []byte, off int64) (int, error) {
	if err := f.checkWritable(); err != nil {
		return 0, err
	}
	ip, err := f.iget(toIno(ino))
	if err != nil {
		return 0, err
	}
	defer f.iput(ip)
	if ip.raw.Type() != vfs.TypeRegular {
		return 0, fmt.Errorf("ext2: write inode %d: %w", ino, vfs.EISDIR)
	}
	return f.writeData(ip, p, off)
}

// Truncate sets a regular file's size.
func (f *FS) Truncate(ino vfs.Ino, size int64) error {
	return f.Setattr(ino, vfs.SetAttr{Size: &size})
}

// create makes a new node of mode in dir under name; for directories it writes "." and "..".
func (f *FS) create(dir vfs.Ino, name string, mode uint16, target string) (vfs.Ino, error) {
	if err := f.checkWritable(); err != nil {
		return 0, err
	}
	if err := checkName(name); err != nil {
		return 0, err
	}
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	dp, err := f.getDir(dir)
	if err != nil {
		return 0, err
	}
	defer f.iput(dp)
	if dp.raw.LinksCount() == 0 {
		return 0, fmt.Errorf("ext2: directory %d removed: %w", dir, vfs.ENOENT)
	}
	if _, err := f.findEntry(dp, name); err == nil {
		return 0, fmt.Errorf("ext2: %q: %w", name, vfs.EEXIST)
	} else if !isErr(err, vfs.ENOENT) {
		return 0, err
	}
	isDir := mode&sIFMT == sIFDIR
	if isDir && dp.raw.LinksCount() >= maxLinks {
		return 0, fmt.Errorf("ext2: directory %d: %w", dir, vfs.EMLINK)
	}
	ip, err := f.newInode(dp.ino, mode)
	if err != nil {
		return 0, err
	}
	// On any failure below, dropping the links makes iput free the half-made inode.
	fail := func(err error) (vfs.Ino, error) {
		ip.mu.Lock()
		ip.raw.setLinks(0)
		ip.mu.Unlock()
		f.iput(ip)
		return 0, err
	}
	ip.mu.Lock()
	switch {
	case isDir:
		pb, _, err := f.bmap(ip, 0, true)
		if err == nil {
			err = f.bc.write(pb, f.newDirBlock(ip.ino, dp.ino))
		}
		if err != nil {
			ip.mu.Unlock()
			return fail(err)
		}
		ip.raw.setSize(f.geo.blockSize)
		ip.raw.setLinks(2)
	case mode&sIFMT == sIFLNK && len(target) < fastSymlinkMax:
		copy(ip.raw[40:40+fastSymlinkMax], target)
		ip.raw.setSize(int64(len(target)))
	case mode&sIFMT == sIFLNK:
		pb, _, err := f.bmap(ip, 0, true)
		if err == nil {
			b := make([]byte, f.geo.blockSize)
			copy(b, target)
			_, err = f.dev.WriteAt(b, int64(pb)*f.geo.blockSize)
		}
		if err != nil {
			ip.mu.Unlock()
			return fail(err)
		}
		ip.raw.setSize(int64(len(target)))
	}
	err = f.writeInode(ip)
	ip.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	if err := f.addEntry(dp, name, ip.ino, modeToFtype(mode)); err != nil {
		return fail(err)
	}
	if isDir {
		dp.mu.Lock()
		dp.raw.setLinks(dp.raw.LinksCount() + 1)
		err = f.writeInode(dp)
		dp.mu.Unlock()
	}
	f.iput(ip)
	return vfs.Ino(ip.ino), err
}

// Create makes a regular file.
func (f *FS) Create(dir vfs.Ino, name string, perm uint32) (vfs.Ino, error) {
	return f.create(dir, name, sIFREG|permBits(fsMode(perm)), "")
}

// Mkdir makes a directory.
func (f *FS) Mkdir(dir vfs.Ino, name string, perm uint32) (vfs.Ino, error) {
	return f.create(dir, name, sIFDIR|permBits(fsMode(perm)), "")
}

// Symlink makes a symbolic link; targets under 60 bytes live in the inode (fast symlink).
func (f *FS) Symlink(dir vfs.Ino, name, target string) (vfs.Ino, error) {
	if len(target) == 0 || int64(len(target)) >= f.geo.blockSize {
		return 0, fmt.Errorf("ext2: symlink target of %d bytes: %w", len(target), vfs.ENAMETOOLONG)
	}
	return f.create(dir, name, sIFLNK|0o777, target)
}

// Readlink returns a symlink's target.
func (f *FS) Readlink(ino vfs.Ino) (string, error) {
	ip, err := f.iget(toIno(ino))
	if err != nil {
		return "", err
	}
	defer f.iput(ip)
	ip.mu.RLock()
	defer ip.mu.RUnlock()
	if ip.raw.Mode()&sIFMT != sIFLNK {
		return "", fmt.Errorf("ext2: readlink inode %d: %w", ino, vfs.EINVAL)
	}
	size := ip.raw.Size()
	if ip.raw.isFastSymlink(f.geo.blockSize) {
		return string(ip.raw[40 : 40+size]), nil
	}
	pb, _, err := f.bmap(ip, 0, false)
	if err != nil {
		return "", err
	}
	if pb == 0 {
		return "", corrupt("symlink %d has no block", ino)
	}
	b := make([]byte, f.geo.blockSize)
	if err := readFull(f.dev, b, int64(pb)*f.geo.blockSize); err != nil {
		return "", err
	}
	return string(b[:size]), nil
}

// Link adds a name for an existing non-directory.
func (f *FS) Link(ino vfs.Ino, dir vfs.Ino, name string) error {
	if err := f.checkWritable(); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	dp, err := f.getDir(dir)
	if err != nil {
		return err
	}
	defer f.iput(dp)
	ip, err := f.iget(toIno(ino))
	if err != nil {
		return err
	}
	defer f.iput(ip)
	if ip.raw.Mode()&sIFMT == sIFDIR {
		return fmt.Errorf("ext2: link to directory %d: %w", ino, vfs.EPERM)
	}
	if ip.raw.LinksCount() >= maxLinks {
		return fmt.Errorf("ext2: inode %d: %w", ino, vfs.EMLINK)
	}
	if _, err := f.findEntry(dp, name); err == nil {
		return fmt.Errorf("ext2: %q: %w", name, vfs.EEXIST)
	} else if !isErr(err, vfs.ENOENT) {
		return err
	}
	if err := f.addEntry(dp, name, ip.ino, modeToFtype(ip.raw.Mode())); err != nil {
		return err
	}
	ip.mu.Lock()
	defer ip.mu.Unlock()
	ip.raw.setLinks(ip.raw.LinksCount() + 1)
	ip.raw.setCtime(uint32(f.now().Unix()))
	return f.writeInode(ip)
}

// unlinkLocked removes name (at loc) from dp and drops one link of ip; for a directory it
// also drops the child's self link and the parent's link from "..". nsMu held.
func (f *FS) unlinkLocked(dp *inode, loc dirLoc, ip *inode) error {
	if err := f.removeEntry(dp, loc); err != nil {
		return err
	}
	isDir := ip.raw.Mode()&sIFMT == sIFDIR
	ip.mu.Lock()
	if isDir {
		ip.raw.setLinks(0)
	} else if l := ip.raw.LinksCount(); l > 0 {
		ip.raw.setLinks(l - 1)
	}
	ip.raw.setCtime(uint32(f.now().Unix()))
	err := f.writeInode(ip)
	ip.mu.Unlock()
	if err != nil {
		return err
	}
	if isDir {
		dp.mu.Lock()
		if l := dp.raw.LinksCount(); l > 1 {
			dp.raw.setLinks(l - 1)
		}
		err = f.writeInode(dp)
		dp.mu.Unlock()
	}
	return err
}

// lookupChild finds name in dp and references its inode.
func (f *FS) lookupChild(dp *inode, name string) (dirLoc, *inode, error) {
	loc, err := f.findEntry(dp, name)
	if err != nil {
		return loc, nil, err
	}
	ip, err := f.iget(loc.ino)
	if err != nil {
		return loc, nil, fmt.Errorf("ext2: entry %q: %w", name, err)
	}
	return loc, ip, nil
}

func (f *FS) remove(dir vfs.Ino, name string, wantDir bool) error {
	if err := f.checkWritable(); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	dp, err := f.getDir(dir)
	if err != nil {
		return err
	}
	defer f.iput(dp)
	loc, ip, err := f.lookupChild(dp, name)
	if err != nil {
		return err
	}
	defer f.iput(ip)
	isDir := ip.raw.Mode()&sIFMT == sIFDIR
	switch {
	case wantDir && !isDir:
		return fmt.Errorf("ext2: %q: %w", name, vfs.ENOTDIR)
	case !wantDir && isDir:
		return fmt.Errorf("ext2: %q: %w", name, vfs.EISDIR)
	case isDir:
		empty, err := f.dirIsEmpty(ip)
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("ext2: %q: %w", name, vfs.ENOTEMPTY)
		}
	}
	return f.unlinkLocked(dp, loc, ip)
}

// Remove unlinks a non-directory.
func (f *FS) Remove(dir vfs.Ino, name string) error { return f.remove(dir, name, false) }

// Rmdir removes an empty directory.
func (f *FS) Rmdir(dir vfs.Ino, name string) error { return f.remove(dir, name, true) }

// Rename moves an entry, replacing a compatible target.
func (f *FS) Rename(fromDir vfs.Ino, fromName string, toDir vfs.Ino, toName string) error {
	if err := f.checkWritable(); err != nil {
		return err
	}
	if err := checkName(fromName); err != nil {
		return err
	}
	if err := checkName(toName); err != nil {
		return err
	}
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	sdp, err := f.getDir(fromDir)
	if err != nil {
		return err
	}
	defer f.iput(sdp)
	tdp, err := f.getDir(toDir)
	if err != nil {
		return err
	}
	defer f.iput(tdp)
	sloc, sip, err := f.lookupChild(sdp, fromName)
	if err != nil {
		return err
	}
	defer f.iput(sip)
	srcDir := sip.raw.Mode()&sIFMT == sIFDIR

	// A directory may not move into its own subtree: walk up from the target directory.
	if srcDir && tdp.ino != sdp.ino {
		cur := tdp.ino
		for steps := uint32(0); cur != rootIno; steps++ {
			if cur == sip.ino {
				return fmt.Errorf("ext2: rename %q into itself: %w", fromName, vfs.EINVAL)
			}
			if steps > f.geo.inodesCount {
				return corrupt("directory loop above inode %d", tdp.ino)
			}
			cp, err := f.getDir(vfs.Ino(cur))
			if err != nil {
				return err
			}
			parent, err := f.parentOf(cp)
			f.iput(cp)
			if err != nil {
				return err
			}
			cur = parent
		}
	}

	tloc, tip, err := f.lookupChild(tdp, toName)
	switch {
	case err == nil:
		defer f.iput(tip)
		if tip.ino == sip.ino {
			return nil // same file: nothing to do
		}
		tgtDir := tip.raw.Mode()&sIFMT == sIFDIR
		if srcDir && !tgtDir {
			return fmt.Errorf("ext2: rename onto %q: %w", toName, vfs.ENOTDIR)
		}
		if !srcDir && tgtDir {
			return fmt.Errorf("ext2: rename onto %q: %w", toName, vfs.EISDIR)
		}
		if tgtDir {
			empty, err := f.dirIsEmpty(tip)
			if err != nil {
				return err
			}
			if !empty {
				return fmt.Errorf("ext2: rename onto %q: %w", toName, vfs.ENOTEMPTY)
			}
		}
		if err := f.retarget(tdp, tloc, sip.ino, modeToFtype(sip.raw.Mode())); err != nil {
			return err
		}
		// The replaced node loses its name (and, for a directory, its "." and the
		// parent's link from its "..").
		tip.mu.Lock()
		if tgtDir {
			tip.raw.setLinks(0)
		} else if l := tip.raw.LinksCount(); l > 0 {
			tip.raw.setLinks(l - 1)
		}
		err = f.writeInode(tip)
		tip.mu.Unlock()
		if err != nil {
			return err
		}
		if tgtDir {
			tdp.mu.Lock()
			tdp.raw.setLinks(tdp.raw.LinksCount() - 1)
			err = f.writeInode(tdp)
			tdp.mu.Unlock()
			if err != nil {
				return err
			}
		}
	case isErr(err, vfs.ENOENT):
		if srcDir && tdp.ino != sdp.ino && tdp.raw.LinksCount() >= maxLinks {
			return fmt.Errorf("ext2: directory %d: %w", tdp.ino, vfs.EMLINK)
		}
		if err := f.addEntry(tdp, toName, sip.ino, modeToFtype(sip.raw.Mode())); err != nil {
			return err
		}
	default:
		return err
	}

	// Remove the old name; the block may have changed if the target was added to the same
	// directory, so look it up again.
	sloc, err = f.findEntry(sdp, fromName)
	if err != nil {
		return err
	}
	if err := f.removeEntry(sdp, sloc); err != nil {
		return err
	}
	if srcDir && tdp.ino != sdp.ino {
		if err := f.setParent(sip, tdp.ino); err != nil {
			return err
		}
		sdp.mu.Lock()
		sdp.raw.setLinks(sdp.raw.LinksCount() - 1)
		err = f.writeInode(sdp)
		sdp.mu.Unlock()
		if err != nil {
			return err
		}
		tdp.mu.Lock()
		tdp.raw.setLinks(tdp.raw.LinksCount() + 1)
		err = f.writeInode(tdp)
		tdp.mu.Unlock()
		if err != nil {
			return err
		}
	}
	sip.mu.Lock()
	sip.raw.setCtime(uint32(f.now().Unix()))
	err = f.writeInode(sip)
	sip.mu.Unlock()
	return err
}

// Readdir lists a directory.
func (f *FS) Readdir(dir vfs.Ino, cookie uint64, max int) ([]vfs.DirEntry, uint64, error) {
	if max <= 0 {
		max = 128
	}
	f.nsMu.RLock()
	defer f.nsMu.RUnlock()
	dp, err := f.getDir(dir)
	if err != nil {
		return nil, 0, err
	}
	defer f.iput(dp)
	return f.readdir(dp, cookie, max)
}

// Open pins a node for an open file.
func (f *FS) Open(ino vfs.Ino) error {
	ip, err := f.iget(toIno(ino))
	if err != nil {
		return err
	}
	f.icMu.Lock()
	ip.opens++
	f.icMu.Unlock()
	return nil // the reference from iget is kept until Close
}

// Close unpins a node; the last close of an unlinked node frees it.
func (f *FS) Close(ino vfs.Ino) error {
	f.icMu.Lock()
	ip, ok := f.icache[toIno(ino)]
	if !ok || ip.opens == 0 {
		f.icMu.Unlock()
		return fmt.Errorf("ext2: close of inode %d not open: %w", ino, vfs.EBADF)
	}
	ip.opens--
	f.icMu.Unlock()
	return f.iput(ip)
}

// Fsync makes a file durable. Data and inodes are written through, so only the allocation
// metadata remains; this syncs the whole filesystem.
func (f *FS) Fsync(ino vfs.Ino) error { return f.Sync() }

func modePerm(m uint16) (p vfsMode) {
	p = vfsMode(m & 0o777)
	if m&0o4000 != 0 {
		p |= vfsMode(setuidBit)
	}
	if m&0o2000 != 0 {
		p |= vfsMode(setgidBit)
	}
	if m&0o1000 != 0 {
		p |= vfsMode(stickyBit)
	}
	return p
}

var _ vfs.FastPather = (*FS)(nil)

// CanFastPath lets attribute reads of an inode already in memory (in use, or its inode table
// block cached) run in the caller's context; everything else may wait for the disk and goes
// to the filesystem threads.
func (f *FS) CanFastPath(m *vfs.Msg) bool {
	if m.Op != vfs.OpGetattr {
		return false
	}
	ino := toIno(m.Ino)
	f.icMu.Lock()
	_, inUse := f.icache[ino]
	f.icMu.Unlock()
	if inUse {
		return true
	}
	blk, _, err := f.inodeLoc(ino)
	return err == nil && f.bc.cached(blk)
}
