package vnet

// Interrupt mitigation by polling (Linux's NAPI, DragonFly's polling(4)
// in spirit): a receive interrupt does no receive work. It switches the
// queue's interrupt off and schedules a poll on the CPU that owns the
// queue pair; the poll delivers up to a budget of frames, refills the ring
// and, if the ring ran dry before the budget, switches the interrupt back
// on and checks once more for buffers that arrived in between (the device
// raised no interrupt for them). Under load a queue is polled round after
// round with its interrupt off; idle, it costs one interrupt per burst.
//
// Per-queue state (pair.state):
//
//	idle       interrupt on, no poll scheduled
//	scheduled  interrupt off, a poll is scheduled or running
//	missed     as scheduled, and an interrupt arrived meanwhile
//
// The interrupt moves idle→scheduled (and schedules) or scheduled→missed.
// A finishing poll moves scheduled→idle only after re-enabling and
// re-checking; if that CAS fails the state is missed, an interrupt raced
// the re-check, and the poll runs again. So no used buffer waits for an
// interrupt that already fired.

import (
	"runtime"

	"damselfly/net/link"
	"damselfly/virtio"
)

const (
	napiIdle int32 = iota
	napiScheduled
	napiMissed
	napiDead
)

// rxInterrupt runs in the interrupt handler for each queue pair.
func (p *pair) rxInterrupt() {
	for {
		switch s := p.state.Load(); s {
		case napiIdle:
			if !p.rx.ctl.pending() {
				return // not this queue's interrupt
			}
			if p.state.CompareAndSwap(napiIdle, napiScheduled) {
				p.st.interrupts.Add(1)
				p.rx.ctl.disable()
				p.d.schedule(p.index)
				return
			}
		case napiScheduled:
			if p.state.CompareAndSwap(napiScheduled, napiMissed) {
				p.st.irqWhilePolling.Add(1)
				return
			}
		default:
			if s == napiMissed {
				p.st.irqWhilePolling.Add(1)
			}
			return
		}
	}
}

// Poll runs one receive round on queue pair q: up to the budget of
// buffers taken from the ring, their frames handed to the receiver, the
// ring refilled. It returns true when the queue wants another round
// (budget used, or work found on re-enabling): the caller must then run
// Poll(q) again, after letting other work run; until it returns false the
// queue's interrupt stays off.
func (d *Device) Poll(q int) (more bool) {
	if q < 0 || q >= len(d.pairs) {
		return false
	}
	p := d.pairs[q]
	r := p.rx
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.closed.Load() || r.dead != nil {
		return false
	}
	// A call nobody scheduled (a kernel polling on its own) takes the
	// queue as if the interrupt had: it too must call again while the
	// answer is true.
	p.state.CompareAndSwap(napiIdle, napiScheduled)
	// The budget counts buffers: the core's Poll hands over everything
	// the device returned, so what is over budget waits in r.held.
	n, frames := 0, 0
	for n < d.budget {
		if len(r.held) == 0 {
			if !r.ctl.pending() {
				break // an empty Poll would only re-arm the interrupt
			}
			cs, err := r.q.Poll(r.cs[:0])
			r.ctl.disable() // Poll re-armed the event index; we are still polling
			if err != nil {
				frames += p.receive(cs)
				p.kill(err)
				p.st.recordPoll(frames)
				return false
			}
			if len(cs) == 0 {
				break
			}
			r.held = cs
		}
		k := min(len(r.held), d.budget-n)
		frames += p.receive(r.held[:k])
		r.held = r.held[k:]
		n += k
		if len(r.spare) >= r.q.Size()/2 {
			// Half the ring is out of buffers: give the device room now
			// rather than at the end of the round.
			r.refill(&p.st)
			r.ctl.disable()
			r.q.Kick()
		}
	}
	r.refill(&p.st)
	r.ctl.disable() // Add rewrote the avail flags
	r.q.Kick()
	p.st.recordPoll(frames)
	if n >= d.budget || len(r.held) > 0 {
		p.st.budgetExhausted.Add(1)
		return true
	}
	r.ctl.enable()
	if r.ctl.pending() {
		r.ctl.disable()
		p.st.repolls.Add(1)
		return true
	}
	if p.state.CompareAndSwap(napiScheduled, napiIdle) {
		return false
	}
	// An interrupt came while we polled: it may be for a buffer that
	// arrived after the re-check. Poll again with interrupts off.
	r.ctl.disable()
	p.state.Store(napiScheduled)
	p.st.repolls.Add(1)
	return true
}

// receive turns completions into frames for the receiver and returns how
// many it delivered.
func (p *pair) receive(cs []virtio.Completion) int {
	r := p.rx
	n := 0
	recv := p.receiver()
	for i := range cs {
		rb := cs[i].Token.(*rxBuf)
		f, ok, handed := r.asm.push(rb.b, int(cs[i].Written), &p.st)
		if handed {
			rb.b = make([]byte, r.bufSize)
		}
		r.spare = append(r.spare, rb)
		if !ok {
			continue
		}
		n++
		if recv == nil {
			p.st.drop(DropNoReceiver)
			continue
		}
		p.st.rxFrames.Add(1)
		p.st.rxBytes.Add(uint64(len(f.b)))
		(*recv)(f.b, f.rss)
	}
	clear(cs) // drop references to tokens
	return n
}

func (p *pair) receiver() *link.Receiver {
	if r := p.recv.Load(); r != nil {
		return r
	}
	return p.d.recv.Load()
}

// kill marks a queue pair dead after the device broke its receive ring.
func (p *pair) kill(err error) {
	p.rx.dead = err
	p.rx.asm.abandon(&p.st)
	p.st.drop(DropBroken)
	p.state.Store(napiDead)
}

// goSchedule is the default executor: a goroutine per queue pair.
func (d *Device) goSchedule(q int) {
	select {
	case d.pairs[q].wake <- struct{}{}:
	default:
	}
}

func (d *Device) pollLoop(p *pair) {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case <-p.wake:
		}
		for d.Poll(p.index) {
			runtime.Gosched()
		}
	}
}
