package vm

import (
	"container/list"
	"sync"
)

// PageSize is the granule of the object cache.
const PageSize = 4096

const pageShift = 12

// page is one resident page of an object. data, valid and dirty are
// protected by the object's range locks: a holder of a lock covering the
// page may read them (shared) or write them (exclusive). Shared holders
// that find the page invalid serialize the fill on fill, so only one of
// them reads it from the pager. elem belongs to the pool (Pool.mu).
type page struct {
	obj   *Object
	index int64 // page number: byte offset >> pageShift
	data  []byte
	fill  sync.Mutex
	valid bool
	dirty bool
	// serial counts how often the page content changed; seed 001 ("add
	// serial number to VM pages to allow revalidation of cache status").
	serial uint64
	elem   *list.Element
}
