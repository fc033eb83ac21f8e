package stack

import (
	"os"
	"sync"
	"time"
)

// deadline is a net.Conn read or write deadline: an absolute wall-clock
// time, and a channel closed whenever it changes so that a blocked call
// re-evaluates it (net.Conn requires that a new deadline applies to calls
// already blocked).
type deadline struct {
	mu      sync.Mutex
	t       time.Time
	changed chan struct{}
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.t = t
	if d.changed != nil {
		close(d.changed)
	}
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

func (d *deadline) get() (time.Time, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	return d.t, d.changed
}

// wait blocks until wake fires, the deadline passes (os.ErrDeadlineExceeded,
// which net.Error reports as a timeout), the deadline changes (nil: the
// caller retries), closed is closed (errClosed: the socket was closed) or
// down is closed (ErrClosed: the stack was shut down).
func (d *deadline) wait(wake, closed, down <-chan struct{}, errClosed error) error {
	t, changed := d.get()
	var timeout <-chan time.Time
	if !t.IsZero() {
		dur := time.Until(t)
		if dur <= 0 {
			return os.ErrDeadlineExceeded
		}
		tm := time.NewTimer(dur)
		defer tm.Stop()
		timeout = tm.C
	}
	select {
	case <-wake:
		return nil
	case <-changed:
		return nil
	case <-closed:
		return errClosed
	case <-down:
		return ErrClosed
	case <-timeout:
		return os.ErrDeadlineExceeded
	}
}

// expired reports whether the deadline has already passed.
func (d *deadline) expired() bool {
	t, _ := d.get()
	return !t.IsZero() && !time.Now().Before(t)
}

// signal wakes a waiter without blocking; the channel has capacity 1 so a
// wakeup sent before the waiter sleeps is not lost.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
