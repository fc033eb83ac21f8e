package blk

import "time"

// The rescue poll: a disk whose driver is a Poller and whose Config names a
// PollInterval reaps the device itself, at that interval, while driver
// requests are in flight. With the device's interrupt routed this is the
// safety net for an interrupt that is lost or noticed late (docs/irq.md,
// "Rescue poll"); without one it is how completions are found at all.
//
// One timer per disk does it, whatever the number of requests. A request
// that goes out while the timer is not armed arms it (issue); each time it
// fires, the callback polls if anything is in flight and re-arms while
// anything still is, else lets it lapse. It is never stopped early: a disk
// kept busy then does no timer work per request at all (the timer runs on
// at one wakeup per interval), and a disk that goes idle pays one last
// wakeup that finds nothing in flight and does not poll. A timer per
// waiting request, as before, cost a timer start and stop on every I/O and
// polled the device once per waiter per interval.
//
// Invariant (under Disk.mu): rescueArmed is true exactly when the timer is
// pending or its callback has fired and not yet decided, under Disk.mu,
// whether to re-arm. So one callback runs at a time, only the callback
// re-arms an armed timer, and only issue arms an idle one.

// RescueTimer is the one timer of a disk's rescue poll. *time.Timer (from
// time.AfterFunc) is one; tests inject their own and fire it by hand.
type RescueTimer interface {
	// Reset makes the timer fire once, d from now. It is only called on
	// a timer that is not pending.
	Reset(d time.Duration) bool
}

// afterFunc is the default Config.NewTimer.
func afterFunc(d time.Duration, f func()) RescueTimer { return time.AfterFunc(d, f) }

// armRescue starts the rescue timer if the disk polls and the timer is not
// armed. Called with d.mu held, when a request goes out.
func (d *Disk) armRescue() {
	if d.poll <= 0 || d.rescueArmed {
		return
	}
	d.rescueArmed = true
	if d.rescueT == nil {
		// The disk's first request: make its only timer.
		d.rescueT = d.newTimer(d.poll, d.rescue)
		d.stats.PollTimers.Add(1)
		return
	}
	d.stats.PollArms.Add(1)
	d.rescueT.Reset(d.poll)
}

// rescue is the timer's callback: reap the device if requests are in
// flight (without d.mu: reaping completes requests, which takes it), then
// re-arm while any remain.
func (d *Disk) rescue() {
	d.mu.Lock()
	if !d.rescueArmed {
		d.mu.Unlock()
		panic("blk: " + d.name + ": rescue timer fired while disarmed")
	}
	busy := d.inflight > 0
	d.mu.Unlock()
	if busy {
		d.stats.Polls.Add(1)
		d.drv.(Poller).Poll()
	}
	d.mu.Lock()
	if d.inflight > 0 {
		d.rescueT.Reset(d.poll)
	} else {
		d.rescueArmed = false
	}
	d.mu.Unlock()
}
