package blk

import (
	"damselfly/sched"
)

// BioMsg carries a bio to a disk's LWKT port.
type BioMsg struct {
	sched.Msg
	Bio *Bio
}

// Port returns the disk's LWKT message port (a put port in system s). Its
// put function runs in the sender's context and never blocks that CPU: a
// read whose range is valid in the disk's object completes there and then
// (DoMsg costs a function call); another read is queued for the device
// thread, unless dirty cached pages may have to be written back first: that
// and writes and discards (which lock the object's pages) go to a helper
// goroutine; then the put returns EASYNC.
// The device thread and the driver are
// outside the system (plain goroutines, like host device emulation), so a
// completion travels back to the sender's CPU as an IPI, which replies.
// Bio.Done is taken over by the port.
func (d *Disk) Port(s *sched.System) *sched.Port {
	return sched.NewPutPort("blk:"+d.name, func(c *sched.CPU, _ *sched.Port, m sched.Message) error {
		bm := m.(*BioMsg)
		b := bm.Bio
		cpu := c.ID()
		b.CPU = cpu + 1 // per-CPU queue on a multiqueue device
		b.Done = func(b *Bio) {
			s.IPI().SendExternal(cpu, func(cpu int, _ any) {
				s.CPU(cpu).ReplyMsg(bm, b.Err)
			}, nil)
		}
		switch err := d.put(b, false); err {
		case ErrAsync:
			return sched.EASYNC
		case errWouldBlock:
			// Locking or writing back the object's pages may block: a
			// helper goroutine does that and queues the bio.
			go func() {
				if err := d.Put(b); err != ErrAsync {
					b.Err = err
					b.Done(b)
				}
			}()
			return sched.EASYNC
		default:
			b.Done = nil
			return err
		}
	})
}
