package blk

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"damselfly/vm"
)

// Config tunes a Disk.
type Config struct {
	// Spawn starts the device thread. Nil means a goroutine; the kernel
	// passes a sched thread constructor so the thread is an LWKT thread.
	Spawn func(name string, fn func())
	// Pool is the page budget of the disk's object; nil means no budget.
	Pool *vm.Pool
	// PollInterval, if > 0 and the driver is a Poller, makes the disk poll
	// the driver at this interval while requests are in flight (rescue.go).
	PollInterval time.Duration
	// NewTimer makes the rescue poll's timer, once per disk; nil means
	// time.AfterFunc. It is called with the disk's lock held and must not
	// run f before it returns. Tests inject a timer they fire by hand.
	NewTimer func(d time.Duration, f func()) RescueTimer
}

// Stats are a disk's counters.
type Stats struct {
	FastPath   atomic.Uint64 // reads completed from the object in the caller's context
	Queued     atomic.Uint64 // bios handed to the device thread (EASYNC)
	Requests   atomic.Uint64 // driver requests issued
	Merged     atomic.Uint64 // bios folded into another bio's request
	MaxFlight  atomic.Uint64 // most requests seen in flight
	Errors     atomic.Uint64 // bios ended with an error
	Polls      atomic.Uint64 // rescue polls of the driver (rescue.go)
	PollTimers atomic.Uint64 // rescue timers made: at most one per disk
	PollArms   atomic.Uint64 // times an idle disk's rescue timer was re-armed
}

// Disk is a block device served by its own device thread. Bios reach the
// thread through the disk's port (Put): the port may complete a bio at
// once in the caller's context, or queue it and return ErrAsync (EASYNC),
// like DragonFly's putport.
type Disk struct {
	drv  Driver
	name string
	size int64
	lim  Limits
	ro   bool
	obj  *vm.Object
	poll time.Duration

	newTimer func(time.Duration, func()) RescueTimer

	mu       sync.Mutex
	cond     *sync.Cond // device thread waits for work or a free slot; Close waits for exit
	queue    []*Bio
	inflight int
	closing  bool
	exited   bool

	rescueT     RescueTimer // made by the first request; nil if the disk does not poll
	rescueArmed bool        // see the invariant in rescue.go

	stats Stats
}

// NewDisk wraps drv and starts its device thread.
func NewDisk(drv Driver, cfg Config) *Disk {
	lim := drv.Limits()
	if lim.SectorSize <= 0 {
		lim.SectorSize = 512
	}
	if lim.QueueDepth <= 0 {
		lim.QueueDepth = 1
	}
	if lim.MaxTransfer <= 0 {
		lim.MaxTransfer = 1 << 20
	}
	d := &Disk{drv: drv, name: drv.Name(), size: drv.Size(), lim: lim, ro: drv.ReadOnly()}
	if _, ok := drv.(Poller); ok {
		d.poll = cfg.PollInterval
	}
	d.newTimer = cfg.NewTimer
	if d.newTimer == nil {
		d.newTimer = afterFunc
	}
	d.cond = sync.NewCond(&d.mu)
	d.obj = vm.NewObject(d.name, diskPager{d}, cfg.Pool)
	spawn := cfg.Spawn
	if spawn == nil {
		spawn = func(_ string, fn func()) { go fn() }
	}
	spawn("blk:"+d.name, d.thread)
	return d
}

// Name, Size, ReadOnly and Limits describe the device.
func (d *Disk) Name() string   { return d.name }
func (d *Disk) Size() int64    { return d.size }
func (d *Disk) ReadOnly() bool { return d.ro }
func (d *Disk) Limits() Limits { return d.lim }
func (d *Disk) Stats() *Stats  { return &d.stats }
func (d *Disk) Driver() Driver { return d.drv }

// Object returns the VM object caching the whole disk: byte offset N of the
// object is byte N of the device.
func (d *Disk) Object() *vm.Object { return d.obj }

func (d *Disk) fail(b *Bio, err error) error {
	return &Error{Dev: d.name, Op: b.Op, Off: b.Off, Err: err}
}

// check validates a bio against the device.
func (d *Disk) check(b *Bio) error {
	n := b.length()
	ss := int64(d.lim.SectorSize)
	switch b.Op {
	case OpFlush:
		return nil
	case OpWrite, OpDiscard:
		if d.ro {
			return d.fail(b, ErrReadOnly)
		}
		if b.Op == OpDiscard && !d.lim.Discard {
			return d.fail(b, ErrUnsupported)
		}
	case OpRead:
	default:
		return d.fail(b, ErrUnsupported)
	}
	if b.Off < 0 || n < 0 || b.Off > d.size || n > d.size-b.Off {
		return d.fail(b, ErrBeyondEnd)
	}
	if b.Off%ss != 0 || n%ss != 0 {
		return d.fail(b, ErrMisaligned)
	}
	return nil
}

// Put is the disk port's putport: it completes b in the caller's context
// and returns its result, or queues it for the device thread and returns
// ErrAsync. Done is not called for a synchronous completion (see Strategy).
func (d *Disk) Put(b *Bio) error { return d.put(b, true) }

// errWouldBlock is put's answer when wait is false and it would have had to
// wait for a range of the disk's object.
var errWouldBlock = errors.New("blk: would block")

func (d *Disk) put(b *Bio, wait bool) error {
	if err := d.check(b); err != nil {
		d.stats.Errors.Add(1)
		return err
	}
	n := b.length()
	if !b.fromObject {
		switch b.Op {
		case OpRead:
			// Synchronous fast path: the data is already valid in the object.
			cached := d.obj.TryReadCached
			if wait {
				cached = d.obj.ReadCached
			}
			if n > 0 && b.Pages == nil && cached(b.Buf, b.Off) {
				d.stats.FastPath.Add(1)
				return nil
			}
			// The device must not return older data than the object holds:
			// write back any dirty pages of the range first.
			if _, dirty := d.obj.Resident(); dirty > 0 && n > 0 {
				if !wait {
					return errWouldBlock
				}
				if err := d.obj.SyncRange(b.Off, n); err != nil {
					return d.fail(b, err)
				}
			}
		case OpWrite, OpDiscard:
			// A raw write replaces what the object caches: hold the pages'
			// range exclusive until the device has it, so no reader refills
			// the cache with the old contents meanwhile.
			if n > 0 {
				start := b.Off &^ (vm.PageSize - 1)
				end := (b.Off + n + vm.PageSize - 1) &^ (vm.PageSize - 1)
				if !wait {
					// Locking, and writing back dirty pages, may block.
					return errWouldBlock
				}
				lk := d.obj.LockRange(start, end-start, vm.Exclusive)
				// Dirty cached bytes of these pages outside the bio's
				// sectors must survive: write them back first.
				if err := lk.WriteBack(); err != nil {
					lk.Unlock()
					return d.fail(b, err)
				}
				lk.Discard()
				b.unlock = lk.Unlock
			}
		}
	}
	if n == 0 && b.Op != OpFlush {
		return nil
	}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		if b.unlock != nil {
			b.unlock()
			b.unlock = nil
		}
		return d.fail(b, ErrClosed)
	}
	d.queue = append(d.queue, b)
	d.mu.Unlock()
	d.cond.Broadcast()
	d.stats.Queued.Add(1)
	return ErrAsync
}

// Strategy starts b (DragonFly's sendmsg): b.Done is always called, by
// Strategy itself when the port completed the bio synchronously.
func (d *Disk) Strategy(b *Bio) {
	if err := d.Put(b); err != ErrAsync {
		b.Err = err
		if b.Done != nil {
			b.Done(b)
		}
	}
}

// DoBio runs b and waits for it (DragonFly's domsg).
func (d *Disk) DoBio(b *Bio) error {
	b.wait = make(chan struct{})
	err := d.Put(b)
	if err != ErrAsync {
		return err
	}
	// A lost interrupt cannot strand the wait: while b's request is in
	// flight the disk's rescue poll runs (rescue.go).
	<-b.wait
	return b.Err
}

// ReadAt and WriteAt are raw synchronous I/O that bypass the object cache
// (writes keep it coherent). Offsets and lengths are sector multiples.
func (d *Disk) ReadAt(p []byte, off int64) error {
	return d.DoBio(&Bio{Op: OpRead, Off: off, Buf: p})
}

func (d *Disk) WriteAt(p []byte, off int64) error {
	return d.DoBio(&Bio{Op: OpWrite, Off: off, Buf: p})
}

// Flush makes completed writes durable.
func (d *Disk) Flush() error { return d.DoBio(&Bio{Op: OpFlush}) }

// finish ends one bio.
func (d *Disk) finish(b *Bio, err error) {
	if err != nil {
		d.stats.Errors.Add(1)
		if _, ok := err.(*Error); !ok {
			err = d.fail(b, err)
		}
	}
	b.Err = err
	if b.unlock != nil {
		b.unlock()
		b.unlock = nil
	}
	if b.Done != nil {
		b.Done(b)
	}
	if b.wait != nil {
		close(b.wait)
	}
}

// complete is every request's completion: it ends the merged bios and
// frees the slot.
func (d *Disk) complete(r *Request, err error) {
	for _, b := range r.bios {
		// A bio split over several requests ends with the last of them,
		// with the first error any part saw.
		if err != nil {
			b.partErr.CompareAndSwap(nil, &err)
		}
		if b.parts.Add(-1) > 0 {
			continue
		}
		berr := err
		if e := b.partErr.Load(); e != nil {
			berr = *e
		}
		d.finish(b, berr)
	}
	d.mu.Lock()
	d.inflight--
	if d.inflight < 0 {
		d.mu.Unlock()
		panic(fmt.Sprintf("blk: %s: request completed twice", d.name))
	}
	d.mu.Unlock()
	d.cond.Broadcast()
}

// thread is the device thread: take the queue, merge, issue with at most
// QueueDepth in flight. A flush waits until everything before it has
// completed and nothing after it is issued until it completes.
func (d *Disk) thread() {
	d.mu.Lock()
	defer func() {
		d.exited = true
		d.mu.Unlock()
		d.cond.Broadcast()
	}()
	for {
		for len(d.queue) == 0 && !d.closing {
			d.cond.Wait()
		}
		if len(d.queue) == 0 && d.closing {
			for d.inflight > 0 {
				d.cond.Wait()
			}
			return
		}
		batch := d.queue
		d.queue = nil
		for len(batch) > 0 {
			// Up to the next flush.
			k := 0
			for k < len(batch) && batch[k].Op != OpFlush {
				k++
			}
			for _, r := range merge(batch[:k], d.lim) {
				d.issue(r)
			}
			if k == len(batch) {
				break
			}
			fl := batch[k]
			batch = batch[k+1:]
			for d.inflight > 0 {
				d.cond.Wait()
			}
			fl.parts.Store(1)
			fl.partErr.Store(nil)
			r := &Request{Op: OpFlush, bios: []*Bio{fl}}
			if !d.lim.Flush {
				d.mu.Unlock()
				d.finish(fl, nil)
				d.mu.Lock()
				continue
			}
			d.issue(r)
			for d.inflight > 0 {
				d.cond.Wait()
			}
		}
	}
}

// issue submits r once a slot is free. Called with d.mu held; drops it
// around Submit because the driver may complete r synchronously.
func (d *Disk) issue(r *Request) {
	for d.inflight >= d.lim.QueueDepth {
		d.cond.Wait()
	}
	d.inflight++
	d.armRescue()
	if f := uint64(d.inflight); f > d.stats.MaxFlight.Load() {
		d.stats.MaxFlight.Store(f)
	}
	d.stats.Requests.Add(1)
	d.stats.Merged.Add(uint64(len(r.bios) - 1))
	r.complete = d.complete
	d.mu.Unlock()
	d.drv.Submit(r)
	d.mu.Lock()
}

// Close drains the queue, waits for requests in flight and stops the
// device thread. Later bios fail with ErrClosed.
func (d *Disk) Close() error {
	d.mu.Lock()
	d.closing = true
	d.cond.Broadcast()
	for !d.exited {
		d.cond.Wait()
	}
	d.mu.Unlock()
	return nil
}

// diskPager backs the disk's object with the disk itself: misses and
// write-backs become bios whose data are the object's pages.
type diskPager struct{ d *Disk }

func (p diskPager) Size() int64     { return p.d.size }
func (p diskPager) ReadOnly() bool  { return p.d.ro }
func (p diskPager) FixedSize() bool { return true }

func (p diskPager) ReadPages(off int64, b []byte) error {
	n := min(int64(len(b)), max(p.d.size-off, 0))
	clear(b[n:])
	if n == 0 {
		return nil
	}
	return p.d.DoBio(&Bio{Op: OpRead, Off: off, Buf: b[:n], fromObject: true})
}

func (p diskPager) WritePages(off int64, b []byte) error {
	return p.d.DoBio(&Bio{Op: OpWrite, Off: off, Buf: b, fromObject: true})
}

// ReadPagesV reads a run of the object's pages in place (one bio with the
// pages as its page list); pages past the device's end read as zero.
func (p diskPager) ReadPagesV(off int64, pages [][]byte) error {
	left := max(p.d.size-off, 0)
	list := make([][]byte, 0, len(pages))
	for _, pg := range pages {
		n := min(int64(len(pg)), left)
		clear(pg[n:])
		if n > 0 {
			list = append(list, pg[:n])
		}
		left -= n
	}
	if len(list) == 0 {
		return nil
	}
	return p.d.DoBio(&Bio{Op: OpRead, Off: off, Pages: list, fromObject: true})
}

// WritePagesV writes a run of pages in place.
func (p diskPager) WritePagesV(off int64, pages [][]byte) error {
	return p.d.DoBio(&Bio{Op: OpWrite, Off: off, Pages: pages, fromObject: true})
}

func (p diskPager) Flush() error {
	return p.d.DoBio(&Bio{Op: OpFlush, fromObject: true})
}
