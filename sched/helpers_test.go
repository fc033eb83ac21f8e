package sched

import (
	"errors"
	"fmt"
	"testing"
)

type testMsg struct {
	Msg
	id  int
	val int
}

func newMsg(id int, reply *Port, opts MsgFlags) *testMsg {
	m := &testMsg{id: id}
	m.Init(m, reply, opts)
	return m
}

var errTest = errors.New("test error")

// startSystem runs a system for one test and stops it at cleanup.
func startSystem(t testing.TB, ncpu int, opts Options) *System {
	s := NewSystem(ncpu, opts)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// mustPanic reports whether f panicked, and with what.
func mustPanic(f func()) (msg string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok = fmt.Sprint(r), true
		}
	}()
	f()
	return "", false
}

// waitFor yields td until cond holds.
func waitFor(td *Thread, cond func() bool) {
	for !cond() {
		td.Yield()
	}
}
