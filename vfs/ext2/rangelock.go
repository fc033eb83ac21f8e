package ext2

import "sync"

// rangeLock serialises conflicting byte ranges of one file: any number of shared holders or
// one exclusive holder per overlapping range. Readers of a range being written wait, so a read
// never observes half of a write (no torn reads); writes to disjoint ranges proceed together.
type rangeLock struct {
	mu   sync.Mutex
	cond *sync.Cond
	held []lockedRange
}

type lockedRange struct {
	off, end int64 // [off, end)
	excl     bool
	id       uint64
}

func (l *rangeLock) conflicts(off, end int64, excl bool) bool {
	for _, h := range l.held {
		if h.off < end && off < h.end && (excl || h.excl) {
			return true
		}
	}
	return false
}

// lock acquires [off, end) and returns a token for unlock.
func (l *rangeLock) lock(off, end int64, excl bool) uint64 {
	l.mu.Lock()
	if l.cond == nil {
		l.cond = sync.NewCond(&l.mu)
	}
	for l.conflicts(off, end, excl) {
		l.cond.Wait()
	}
	var id uint64
	for _, h := range l.held {
		if h.id >= id {
			id = h.id + 1
		}
	}
	l.held = append(l.held, lockedRange{off: off, end: end, excl: excl, id: id})
	l.mu.Unlock()
	return id
}

func (l *rangeLock) unlock(id uint64) {
	l.mu.Lock()
	for i, h := range l.held {
		if h.id == id {
			l.held = append(l.held[:i], l.held[i+1:]...)
			break
		}
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}

const wholeFile = int64(^uint64(0) >> 1)

// tryLock is lock without waiting: ok is false if the range is held in a conflicting mode.
func (l *rangeLock) tryLock(off, end int64, excl bool) (id uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cond == nil {
		l.cond = sync.NewCond(&l.mu)
	}
	if l.conflicts(off, end, excl) {
		return 0, false
	}
	for _, h := range l.held {
		if h.id >= id {
			id = h.id + 1
		}
	}
	l.held = append(l.held, lockedRange{off: off, end: end, excl: excl, id: id})
	return id, true
}
