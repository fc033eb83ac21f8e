package stack

import "sync"

// inbox is the message queue both thread layers (GoLoops, SchedLoops) put
// in front of a protocol thread: producers on any goroutine append under
// mu, the thread takes the whole batch at once, so producers append to a
// fresh slice while the thread runs the previous one. wake tells the
// thread that the queue went from empty to non-empty, or that it stopped.
type inbox struct {
	mu      sync.Mutex // guards fns, spare and stopped; held only for slice swaps
	fns     []func()
	spare   []func()
	stopped bool
	stop    chan struct{} // closed by Stop
	// exited is closed when the thread's loop returns: no function runs
	// after it, so a Do that sees it knows its function will never run.
	exited chan struct{}
	wake   func()
}

func newInbox(wake func()) inbox {
	return inbox{stop: make(chan struct{}), exited: make(chan struct{}), wake: wake}
}

// Post implements Loop.Post.
func (q *inbox) Post(fn func()) {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	q.fns = append(q.fns, fn)
	first := len(q.fns) == 1
	q.mu.Unlock()
	if first {
		q.wake()
	}
}

// Do implements Loop.Do.
func (q *inbox) Do(fn func()) bool {
	done := make(chan struct{})
	q.Post(func() { fn(); close(done) })
	select {
	case <-done:
		return true
	case <-q.exited:
		return false
	}
}

// Stop implements Loop.Stop.
func (q *inbox) Stop() {
	q.mu.Lock()
	if !q.stopped {
		q.stopped = true
		close(q.stop)
	}
	q.mu.Unlock()
	q.wake()
}

// run runs the queued functions in order and reports whether the inbox
// has been stopped (then nothing ran).
func (q *inbox) run() (stopped bool) {
	q.mu.Lock()
	batch, stopped := q.fns, q.stopped
	q.fns = q.spare[:0]
	q.mu.Unlock()
	if stopped {
		return true
	}
	for i, fn := range batch {
		fn()
		batch[i] = nil
	}
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
