package vm

// Page budget and eviction. A Pool bounds the number of resident pages of
// all objects that share it. Pages are kept on one LRU list; when an object
// needs a page and the pool is at its budget, the pool walks the list from
// the cold end and asks each page's object to give it up. The object does
// so only if it can take the page's range lock exclusive without waiting
// (an I/O in progress keeps its pages), writing the page back first if it
// is dirty. If no page can be evicted the pool overcommits and counts it,
// rather than block a thread that may itself hold the range that would have
// to drain.

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// evictScan bounds the candidates one admission examines.
const evictScan = 16

// Pool is a page budget shared by objects. Its fields are protected by mu;
// the list holds *page entries whose owner object is page.obj.
type Pool struct {
	mu       sync.Mutex
	max      int
	resident int
	lru      *list.List

	Evictions  atomic.Uint64 // pages given up under pressure
	Writebacks atomic.Uint64 // dirty pages written while evicting
	Overcommit atomic.Uint64 // allocations past the budget (nothing evictable)
}

// NewPool returns a pool that keeps at most maxPages pages resident.
func NewPool(maxPages int) *Pool {
	if maxPages < 1 {
		maxPages = 1
	}
	return &Pool{max: maxPages, lru: list.New()}
}

// Resident returns the number of resident pages.
func (p *Pool) Resident() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resident
}

// Max returns the budget.
func (p *Pool) Max() int { return p.max }

// admit accounts a new page and evicts others while over budget. It is
// called without any object mutex held.
func (p *Pool) admit(pg *page) {
	p.mu.Lock()
	p.resident++
	pg.elem = p.lru.PushFront(pg)
	// Look at a bounded number of candidates: when most resident pages
	// are held by I/O in progress, scanning them all on every admission
	// would make filling a large range quadratic. What is not evicted now
	// is retried by later admissions.
	tries := min(p.lru.Len(), evictScan)
	for p.resident > p.max && tries > 0 {
		tries--
		e := p.lru.Back()
		v := e.Value.(*page)
		if v == pg {
			p.lru.MoveToFront(e)
			continue
		}
		p.lru.MoveToFront(e) // second chance if the owner refuses
		p.mu.Unlock()
		ok := v.obj.tryEvict(v)
		p.mu.Lock()
		if ok {
			p.Evictions.Add(1)
		}
	}
	if p.resident > p.max {
		p.Overcommit.Add(1)
	}
	p.mu.Unlock()
}

// touch moves a page to the hot end.
func (p *Pool) touch(pg *page) {
	p.mu.Lock()
	if pg.elem != nil {
		p.lru.MoveToFront(pg.elem)
	}
	p.mu.Unlock()
}

// drop forgets a page that its object removed.
func (p *Pool) drop(pg *page) {
	p.mu.Lock()
	if pg.elem != nil {
		p.lru.Remove(pg.elem)
		pg.elem = nil
		p.resident--
	}
	p.mu.Unlock()
}

// pageBufs recycles the data of pages that left their object, so a cache
// under pressure does not allocate (and the collector does not clear) a
// page per miss. It is package-wide and needs no owner (a sync.Pool): a
// page leaves an object only under an exclusive range lock covering it,
// when no copy or I/O can still refer to its data.
var pageBufs = sync.Pool{New: func() any { return new([PageSize]byte) }}

func newPageData() []byte { return pageBufs.Get().(*[PageSize]byte)[:] }

// release recycles the data of a page that has left its object.
func (pg *page) release() {
	pageBufs.Put((*[PageSize]byte)(pg.data))
	pg.data = nil
}
