package stack

import (
	"sync"

	"damselfly/net/link"
)

// inbox is the packet path into a protocol thread: received frames and
// hand-offs from other threads. A hand-off is a function; a received
// frame is an entry of its own (the frame and its RSS result for a
// proto), not a closure, so receiving allocates nothing. Producers on any goroutine
// append under mu; the thread takes the whole batch at once, so producers
// append to a fresh slice while the thread runs the previous one. wake
// tells the thread that the queue went from empty to non-empty, or that
// it stopped. Socket calls do not come this way: they are messages on the
// thread's port (loop.go).
type inbox struct {
	mu      sync.Mutex // guards fns, spare and stopped; held only for slice swaps
	fns     []inboxItem
	spare   []inboxItem
	stopped bool
	wake    func()
}

// inboxItem is a function to run, or (fn nil) a frame for p.inputFrameRx.
type inboxItem struct {
	fn    func()
	p     *proto
	frame []byte
	rss   link.RSS
	hop   bool // the frame arrived on another thread's queue (counted)
}

func newInbox(wake func()) inbox { return inbox{wake: wake} }

// Post queues fn; after Stop it is dropped.
func (q *inbox) Post(fn func()) { q.post(inboxItem{fn: fn}) }

// PostFrame queues the received frame f for p; after Stop it is dropped.
func (q *inbox) PostFrame(p *proto, f []byte, rss link.RSS, hop bool) {
	q.post(inboxItem{p: p, frame: f, rss: rss, hop: hop})
}

func (q *inbox) post(it inboxItem) {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	q.fns = append(q.fns, it)
	first := len(q.fns) == 1
	q.mu.Unlock()
	if first {
		q.wake()
	}
}

// Stop drops what is queued and refuses further posts.
func (q *inbox) Stop() {
	q.mu.Lock()
	q.stopped = true
	q.fns = nil
	q.mu.Unlock()
	q.wake()
}

// run runs the queued functions in order, counting them in *n, and
// reports whether the inbox has been stopped (then nothing ran).
func (q *inbox) run(n *uint64) (stopped bool) {
	q.mu.Lock()
	batch, stopped := q.fns, q.stopped
	q.fns = q.spare[:0]
	q.mu.Unlock()
	if stopped {
		return true
	}
	for i := range batch {
		it := &batch[i]
		if it.fn != nil {
			it.fn()
		} else {
			if it.hop {
				it.p.ctr.hopsIn++
			}
			it.p.inputFrameRx(it.frame, it.rss)
		}
		*it = inboxItem{} // drop the references for the collector
	}
	*n += uint64(len(batch))
	q.mu.Lock()
	q.spare = batch
	q.mu.Unlock()
	return false
}

// pending reports whether functions are queued or the inbox was stopped.
func (q *inbox) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.fns) > 0 || q.stopped
}
