package ext2

import (
	"container/list"
	"fmt"
	"sync"

	"damselfly/vfs"
)

// bcache is a small write-through cache of metadata blocks: indirect blocks, directory blocks
// and inode table blocks. File data does not pass through it (the VM page cache is the place
// for that). Callers get copies, so no caller holds a reference into the cache.
//
// A block freed by the allocator is forgotten, so a block reused as metadata after serving as
// file data is never served stale.
type bcache struct {
	dev Device
	bs  int64
	max int

	mu      sync.Mutex
	blocks  map[uint32]*list.Element
	lru     *list.List // front = most recent; values are *cblock
	hits    uint64
	misses  uint64
	evicted uint64
}

type cblock struct {
	n    uint32
	data []byte
}

func newBcache(dev Device, bs int64, max int) *bcache {
	if max < 16 {
		max = 16
	}
	return &bcache{dev: dev, bs: bs, max: max, blocks: make(map[uint32]*list.Element), lru: list.New()}
}

// read returns block n, shared and read-only.
func (c *bcache) read(n uint32) ([]byte, error) {
	c.mu.Lock()
	if e, ok := c.blocks[n]; ok {
		c.lru.MoveToFront(e)
		data := e.Value.(*cblock).data
		c.hits++
		c.mu.Unlock()
		return data, nil
	}
	c.misses++
	c.mu.Unlock()
	out := make([]byte, c.bs)
	if err := readFull(c.dev, out, int64(n)*c.bs); err != nil {
		return nil, fmt.Errorf("ext2: read block %d: %w", n, err)
	}
	c.insert(n, out, false)
	return out, nil
}

// readCopy returns a private copy of block n for the caller to modify and write back.
func (c *bcache) readCopy(n uint32) ([]byte, error) {
	b, err := c.read(n)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// write writes a whole block through to the device and caches it.
func (c *bcache) write(n uint32, data []byte) error {
	if int64(len(data)) != c.bs {
		return fmt.Errorf("ext2: write block %d: %d bytes: %w", n, len(data), vfs.EINVAL)
	}
	if _, err := c.dev.WriteAt(data, int64(n)*c.bs); err != nil {
		return fmt.Errorf("ext2: write block %d: %w", n, err)
	}
	c.insert(n, append([]byte(nil), data...), true)
	return nil
}

// writePart writes bytes [off, off+len(p)) of block n through, updating a cached copy.
func (c *bcache) writePart(n uint32, off int, p []byte) error {
	if _, err := c.dev.WriteAt(p, int64(n)*c.bs+int64(off)); err != nil {
		return fmt.Errorf("ext2: write block %d: %w", n, err)
	}
	c.mu.Lock()
	if e, ok := c.blocks[n]; ok {
		cb := e.Value.(*cblock)
		data := append([]byte(nil), cb.data...)
		copy(data[off:], p)
		cb.data = data
	}
	c.mu.Unlock()
	return nil
}

// insert caches data (which the cache now owns). A block read from the device does not
// replace a cached copy (a write may have raced ahead of the read); a write always does.
func (c *bcache) insert(n uint32, data []byte, replace bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.blocks[n]; ok {
		if replace {
			e.Value.(*cblock).data = data
		}
		c.lru.MoveToFront(e)
		return
	}
	c.blocks[n] = c.lru.PushFront(&cblock{n: n, data: data})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.blocks, old.Value.(*cblock).n)
		c.evicted++
	}
}

func (c *bcache) forget(n uint32) {
	c.mu.Lock()
	if e, ok := c.blocks[n]; ok {
		c.lru.Remove(e)
		delete(c.blocks, n)
	}
	c.mu.Unlock()
}

// readFull reads len(p) bytes at off or fails; a short read of metadata is an error.
func readFull(dev Device, p []byte, off int64) error {
	n, err := dev.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = vfs.EIO
	}
	return fmt.Errorf("short read at %d (%d of %d bytes): %w", off, n, len(p), err)
}

// cached reports whether block n is in the cache, without touching the LRU order.
func (c *bcache) cached(n uint32) bool {
	c.mu.Lock()
	_, ok := c.blocks[n]
	c.mu.Unlock()
	return ok
}

// peek returns block n if it is cached, without I/O.
func (c *bcache) peek(n uint32) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.blocks[n]
	if !ok {
		return nil, false
	}
	c.hits++
	return e.Value.(*cblock).data, true
}
