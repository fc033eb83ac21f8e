package vfs

import (
	"errors"
	"strings"
)

// Path resolution through the namecache. The caller holds v.ns (either mode). The walk
// follows resolved entries under v.mu; when it meets a component the cache does not know (or
// knows only unresolved), it gathers the run of plain components from there, enters them
// unresolved, drops v.mu and sends one Lookup message with that tail to the filesystem.

const maxSymlinks = 40

// cleanPath makes a path absolute and drops empty components (for messages and mount paths).
func cleanPath(p string) string {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parentOf returns the entry ".." leads to from e, crossing back over a mount point.
func (v *VFS) parentOf(e *ncEntry) *ncEntry {
	for e.parent == nil && e.mnt.covered != nil {
		e = e.mnt.covered
	}
	if e.parent == nil {
		return e // ".." of the root is the root
	}
	return e.parent
}

// cross descends through mounts stacked on e.
func cross(e *ncEntry) *ncEntry {
	for e.mounted != nil {
		e = e.mounted.root
	}
	return e
}

// resolve returns the resolved entry for path; follow says whether a final symlink is
// followed. Paths are taken relative to the root whether or not they start with '/'.
func (v *VFS) resolve(path string, follow bool) (*ncEntry, error) {
	links := 0
	return v.walk(v.rootEntry(), splitPath(path), follow, &links)
}

func (v *VFS) rootEntry() *ncEntry {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.root.root
}

// resolveParent resolves all but the last component and returns that directory and the
// final name, which must be a plain name.
func (v *VFS) resolveParent(path string) (*ncEntry, string, error) {
	parts := splitPath(path)
	if len(parts) == 0 {
		return nil, "", EINVAL // the root has no parent
	}
	name := parts[len(parts)-1]
	if name == "." || name == ".." {
		return nil, "", EINVAL
	}
	if len(name) > 255 {
		return nil, "", ENAMETOOLONG
	}
	links := 0
	dir, err := v.walk(v.rootEntry(), parts[:len(parts)-1], true, &links)
	if err != nil {
		return nil, "", err
	}
	if dir.typ != TypeDir {
		return nil, "", ENOTDIR
	}
	return dir, name, nil
}

func (v *VFS) walk(cur *ncEntry, parts []string, follow bool, links *int) (*ncEntry, error) {
	for i := 0; i < len(parts); i++ {
		name := parts[i]
		switch name {
		case ".":
			continue
		case "..":
			v.mu.Lock()
			cur = cross(v.parentOf(cur))
			v.mu.Unlock()
			continue
		}
		if cur.typ != TypeDir {
			return nil, ENOTDIR
		}
		if len(name) > 255 {
			return nil, ENAMETOOLONG
		}
		v.mu.Lock()
		e := v.nc.child(cur, name)
		switch {
		case e != nil && e.state == ncResolved:
			v.nc.stats.Hits++
			v.mu.Unlock()
		case e != nil && e.state == ncNegative:
			v.nc.stats.NegHits++
			v.mu.Unlock()
			return nil, ENOENT
		default:
			v.mu.Unlock()
			var err error
			if e, err = v.lookupTail(cur, parts[i:]); err != nil {
				return nil, err
			}
		}
		if e.typ == TypeSymlink && (follow || i < len(parts)-1) {
			*links++
			if *links > maxSymlinks {
				return nil, ELOOP
			}
			m := &Msg{Op: OpReadlink, Ino: e.ino}
			if err := e.mnt.do(m); err != nil {
				return nil, err
			}
			start := cur
			if strings.HasPrefix(m.Link, "/") {
				start = v.rootEntry()
			}
			target, err := v.walk(start, splitPath(m.Link), true, links)
			if err != nil {
				return nil, err
			}
			cur = target
			continue
		}
		v.mu.Lock()
		cur = cross(e)
		v.mu.Unlock()
	}
	return cur, nil
}

// lookupTail resolves parts[0] (and as many following plain components as the filesystem
// will) from dir with one Lookup message, and records the outcome in the cache: resolved
// entries, a negative entry for a missing component. It returns parts[0]'s entry.
func (v *VFS) lookupTail(dir *ncEntry, parts []string) (*ncEntry, error) {
	tail := parts[:0:0]
	for _, p := range parts {
		if p == "." || p == ".." || len(p) > 255 {
			break
		}
		tail = append(tail, p)
	}
	v.mu.Lock()
	entries := make([]*ncEntry, len(tail))
	parent := dir
	for i, name := range tail {
		entries[i] = v.nc.add(parent, name)
		parent = entries[i]
	}
	v.nc.stats.Misses += uint64(len(tail))
	v.nc.stats.Lookups++
	v.mu.Unlock()

	m := &Msg{Op: OpLookup, Dir: dir.ino, Names: tail}
	err := dir.mnt.do(m)

	v.mu.Lock()
	defer v.mu.Unlock()
	defer v.nc.evict()
	for i, r := range m.Results {
		if i >= len(entries) {
			break
		}
		e := entries[i]
		if e.state != ncResolved {
			e.state, e.ino, e.typ = ncResolved, r.Ino, r.Type
		}
	}
	n := len(m.Results)
	if n < len(entries) {
		if errors.Is(err, ENOENT) && entries[n].state == ncUnresolved {
			v.nc.setNegative(entries[n])
			n++
		}
		// Whatever is left unresolved is dropped again; a later walk retries it.
		for _, e := range entries[n:] {
			if e.state == ncUnresolved && e.mounted == nil {
				v.nc.remove(e)
				break // removes the rest of the chain with it
			}
		}
	}
	first := entries[0]
	switch first.state {
	case ncResolved:
		return first, nil
	case ncNegative:
		return nil, ENOENT
	}
	if err == nil {
		err = EIO
	}
	return nil, err
}
