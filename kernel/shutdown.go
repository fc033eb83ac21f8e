// Graceful shutdown: on the power button (or a shell `poweroff`) the
// kernel runs the hooks other packages registered, newest first (services
// stop before the filesystems under them are synced and unmounted), then
// powers off.

package kernel

import (
	"fmt"
	"sync"
)

// ShutdownHooks runs registered functions once, in reverse order of
// registration.
type ShutdownHooks struct {
	mu    sync.Mutex
	hooks []namedHook
	done  bool
}

type namedHook struct {
	name string
	fn   func() error
}

// Register adds a hook; name appears in the log.
func (s *ShutdownHooks) Register(name string, fn func() error) {
	s.mu.Lock()
	s.hooks = append(s.hooks, namedHook{name, fn})
	s.mu.Unlock()
}

// Run runs every hook once, newest first, reporting each through report
// (nil error: done). Later calls do nothing and return false.
func (s *ShutdownHooks) Run(report func(name string, err error)) bool {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return false
	}
	s.done = true
	hooks := append([]namedHook(nil), s.hooks...)
	s.mu.Unlock()
	for i := len(hooks) - 1; i >= 0; i-- {
		err := safeCall(hooks[i].fn)
		report(hooks[i].name, err)
	}
	return true
}

func safeCall(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}

// Shutdown is the kernel's list: packages that hold state worth saving
// (vfs: sync and unmount; net: close listeners) register here from init.
var Shutdown ShutdownHooks

// OnShutdown registers a hook on the kernel's list.
func OnShutdown(name string, fn func() error) { Shutdown.Register(name, fn) }
