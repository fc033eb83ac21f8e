package sched

import (
	"fmt"
	"sync/atomic"
)

// Serializing tokens (DragonFly's lwkt_token.c). A token held by a thread is really held
// only while the thread runs: the scheduler releases all of a thread's tokens when it
// switches out and re-acquires them before it resumes it (a thread whose tokens are busy is
// skipped, and counted as a token miss). So no two threads holding the same token
// exclusively (or one exclusively and others shared) ever run at the same time, and a
// holder cannot deadlock by blocking with tokens held, but must expect that others holding
// the token ran while it was blocked.
//
// A thread's tokens form a stack: RelToken releases the most recent one. Acquisition is
// recursive; shared and exclusive requests may be mixed by one thread except upgrading
// (asking exclusive while holding shared), which panics because it would wait for itself.
type Token struct {
	name   string
	owner  atomic.Pointer[Thread] // exclusive holder while it runs
	shared atomic.Int32           // running shared holders (refs)
	misses atomic.Uint64          // failed acquisitions
}

// NewToken returns a token; name appears in panics and statistics.
func NewToken(name string) *Token { return &Token{name: name} }

// Name returns the token's name.
func (t *Token) Name() string { return t.name }

// Misses returns how many acquisition attempts found the token busy.
func (t *Token) Misses() uint64 { return t.misses.Load() }

// Owner returns the running exclusive holder, or nil. Holders use it to assert exclusivity.
func (t *Token) Owner() *Thread { return t.owner.Load() }

// SharedHolders returns how many running threads hold t shared.
func (t *Token) SharedHolders() int { return int(t.shared.Load()) }

// tokenRef is one entry of a thread's token stack. owns is set when this ref, not an
// earlier one of the same thread, is what makes the thread the exclusive owner.
type tokenRef struct {
	tok    *Token
	shared bool
	owns   bool
}

// tryExcl makes td the exclusive owner if nobody else holds t in any mode.
func (t *Token) tryExcl(td *Thread) bool {
	if !t.owner.CompareAndSwap(nil, td) {
		return false
	}
	// Sequentially consistent: a shared taker that incremented before our CAS is seen
	// here, and one that increments after it sees us as owner and backs off.
	if t.shared.Load() != 0 {
		t.owner.Store(nil)
		return false
	}
	return true
}

// tryShared adds a shared hold unless another thread holds t exclusively.
func (t *Token) tryShared(td *Thread) bool {
	t.shared.Add(1)
	if o := t.owner.Load(); o != nil && o != td {
		t.shared.Add(-1)
		return false
	}
	return true
}

// GetToken acquires t exclusively, switching out until it can if another running thread
// holds it.
func (td *Thread) GetToken(t *Token) {
	td.assertRunning("GetToken")
	ref := tokenRef{tok: t}
	if t.owner.Load() != td {
		for _, r := range td.tokens {
			if r.tok == t && r.shared {
				panic(fmt.Sprintf("sched: thread %v asks token %q exclusively while holding it shared", td, t.name))
			}
		}
		ref.owns = true
	}
	td.tokens = append(td.tokens, ref)
	if ref.owns && !t.tryExcl(td) {
		t.misses.Add(1)
		td.waitTokens()
	}
}

// GetSharedToken acquires t shared.
func (td *Thread) GetSharedToken(t *Token) {
	td.assertRunning("GetSharedToken")
	td.tokens = append(td.tokens, tokenRef{tok: t, shared: true})
	if !t.tryShared(td) {
		t.misses.Add(1)
		td.waitTokens()
	}
}

// waitTokens switches out with the newest ref not yet acquired: the scheduler re-acquires
// the whole stack (dropping anything it got) before resuming the thread.
func (td *Thread) waitTokens() {
	td.pendingTok = true
	td.switchOut()
}

// RelToken releases t, which must be the most recently acquired token.
func (td *Thread) RelToken(t *Token) {
	td.assertRunning("RelToken")
	n := len(td.tokens)
	if n == 0 || td.tokens[n-1].tok != t {
		panic(fmt.Sprintf("sched: thread %v releases token %q out of order", td, t.name))
	}
	r := td.tokens[n-1]
	td.tokens = td.tokens[:n-1]
	td.release(r)
}

// HoldsToken reports whether td holds t (in any mode).
func (td *Thread) HoldsToken(t *Token) bool {
	for _, r := range td.tokens {
		if r.tok == t {
			return true
		}
	}
	return false
}

func (td *Thread) release(r tokenRef) {
	switch {
	case r.shared:
		if r.tok.shared.Add(-1) < 0 {
			panic(fmt.Sprintf("sched: token %q shared count below zero", r.tok.name))
		}
	case r.owns:
		if r.tok.owner.Load() != td {
			panic(fmt.Sprintf("sched: token %q released by %v, which does not own it", r.tok.name, td))
		}
		r.tok.owner.Store(nil)
	}
}

// releaseTokens drops every token td holds as it switches out (newest first); the refs stay.
func (td *Thread) releaseTokens() {
	n := len(td.tokens)
	if td.pendingTok {
		// The newest ref was never acquired: the failed attempt left nothing behind.
		td.pendingTok = false
		n--
	}
	for i := n - 1; i >= 0; i-- {
		td.release(td.tokens[i])
	}
}

// acquireTokens re-acquires td's whole token stack before it resumes; on failure it drops
// what it got and reports false.
func (td *Thread) acquireTokens() bool {
	for i, r := range td.tokens {
		ok := false
		switch {
		case r.shared:
			ok = r.tok.tryShared(td)
		case r.owns:
			ok = r.tok.tryExcl(td)
		default:
			ok = true // recursive exclusive ref: covered by the owning ref below it
		}
		if !ok {
			r.tok.misses.Add(1)
			for j := i - 1; j >= 0; j-- {
				td.release(td.tokens[j])
			}
			return false
		}
	}
	return true
}
