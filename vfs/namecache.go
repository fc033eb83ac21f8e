package vfs

import "container/list"

// The namecache: one entry per path component the kernel has seen, after DragonFly's
// namecache (struct namecache) and the design's "load paths unresolved, hand the tail to
// VFS_LOOKUP".
//
// Invariants (checked by namecache_test.go):
//   - A mount point (mounted != nil) and every ancestor of one are resolved and never evicted.
//   - A mount's root entry has no parent; ".." from it continues at the covered entry.
//   - Negative entries have no children.
//   - count equals the number of entries reachable from the mount roots, excluding the roots.
//
// Structure (children maps, the LRU list, states) is guarded by namecache.mu; entries are
// only created, resolved and removed with VFS.ns held (shared for lookups, exclusive for
// namespace changes), so a resolved entry never contradicts its filesystem.

type ncState uint8

const (
	ncUnresolved ncState = iota
	ncResolved
	ncNegative
)

type ncEntry struct {
	parent   *ncEntry
	name     string
	mnt      *Mount // mount whose filesystem holds this node
	ino      Ino
	typ      Type
	state    ncState
	children map[string]*ncEntry
	mounted  *Mount        // mount covering this entry, if any
	lru      *list.Element // nil for mount roots
}

// namecache statistics, for the status page.
type NamecacheStats struct {
	Entries   int
	Hits      uint64 // components found resolved
	NegHits   uint64 // components found negative
	Misses    uint64 // components handed to a filesystem
	Lookups   uint64 // Lookup messages sent
	Evictions uint64
}

type namecache struct {
	max   int
	count int
	lru   list.List // front = most recently used
	stats NamecacheStats
}

// child returns dir's entry for name, or nil.
func (c *namecache) child(dir *ncEntry, name string) *ncEntry {
	if dir.children == nil {
		return nil
	}
	e := dir.children[name]
	if e != nil && e.lru != nil {
		c.lru.MoveToFront(e.lru)
	}
	return e
}

// add creates an unresolved entry for name under dir (or returns the existing one).
func (c *namecache) add(dir *ncEntry, name string) *ncEntry {
	if e := dir.children[name]; e != nil {
		return e
	}
	if dir.children == nil {
		dir.children = make(map[string]*ncEntry)
	}
	e := &ncEntry{parent: dir, name: name, mnt: dir.mnt}
	dir.children[name] = e
	e.lru = c.lru.PushFront(e)
	c.count++
	return e
}

// remove drops e and its subtree. Callers make sure no mount point is inside.
func (c *namecache) remove(e *ncEntry) {
	for _, ch := range e.children {
		c.remove(ch)
	}
	e.children = nil
	if e.parent != nil && e.parent.children[e.name] == e {
		delete(e.parent.children, e.name)
	}
	if e.lru != nil {
		c.lru.Remove(e.lru)
		e.lru = nil
		c.count--
	}
}

// setNegative turns e into a negative entry, dropping what was below it.
func (c *namecache) setNegative(e *ncEntry) {
	for _, ch := range e.children {
		c.remove(ch)
	}
	e.children = nil
	e.state, e.ino, e.typ = ncNegative, 0, TypeUnknown
}

// hasMount reports whether a mount point lies in e's subtree (e included).
func hasMount(e *ncEntry) bool {
	if e.mounted != nil {
		return true
	}
	for _, ch := range e.children {
		if hasMount(ch) {
			return true
		}
	}
	return false
}

// evict trims the cache to its bound, dropping least recently used leaves that are not mount
// points. The scan is bounded by the list length.
func (c *namecache) evict() {
	if c.count <= c.max {
		return
	}
	el := c.lru.Back()
	for n := c.lru.Len(); n > 0 && c.count > c.max && el != nil; n-- {
		prev := el.Prev()
		e := el.Value.(*ncEntry)
		if len(e.children) == 0 && e.mounted == nil {
			c.remove(e)
			c.stats.Evictions++
		}
		el = prev
	}
}
