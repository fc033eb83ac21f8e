package blk

import (
	"bytes"
	"errors"
	"testing"

	"damselfly/sched"
	"damselfly/vm"
)

func TestSchedPort(t *testing.T) {
	m, _ := NewMemDevice("md1", 1<<20, false)
	m.Async = true
	for i := range m.data {
		m.data[i] = byte(i / 512)
	}
	d := NewDisk(m, Config{Pool: vm.NewPool(64)})
	defer d.Close()
	s := sched.NewSystem(2, sched.Options{})
	s.Start()
	defer s.Stop()
	port := d.Port(s)
	var errs []error
	s.Run(1, sched.ThreadOpts{Name: "io"}, func(td *sched.Thread) {
		do := func(b *Bio) error {
			msg := &BioMsg{Bio: b}
			msg.Init(msg, nil, 0)
			return td.DoMsg(port, &msg.Msg)
		}
		// A queued read (EASYNC), replied through an IPI.
		b := make([]byte, 4096)
		if err := do(&Bio{Op: OpRead, Off: 8192, Buf: b}); err != nil || b[0] != 16 || b[4095] != 23 {
			errs = append(errs, errors.New("queued read wrong"))
		}
		// A write, then the object caches the range: the read completes
		// synchronously in the put.
		if err := do(&Bio{Op: OpWrite, Off: 0, Buf: bytes.Repeat([]byte{7}, 4096)}); err != nil {
			errs = append(errs, err)
		}
		if _, err := d.Object().ReadAt(make([]byte, 4096), 0); err != nil {
			errs = append(errs, err)
		}
		fast := d.Stats().FastPath.Load()
		if err := do(&Bio{Op: OpRead, Off: 0, Buf: b}); err != nil || b[0] != 7 {
			errs = append(errs, errors.New("fast read wrong"))
		}
		if d.Stats().FastPath.Load() != fast+1 {
			errs = append(errs, errors.New("fast path not taken"))
		}
		// Errors come back synchronously.
		if err := do(&Bio{Op: OpRead, Off: 1 << 20, Buf: b}); !errors.Is(err, ErrBeyondEnd) {
			errs = append(errs, err)
		}
	})
	for _, e := range errs {
		t.Error(e)
	}
}

// A thread reading a cache miss through ObjectReadAt sleeps in the
// scheduler instead of stalling its CPU: here the request is completed by
// another thread of the same CPU, which could never run if the reader
// blocked on a Go primitive (the test would hang).
func TestObjectReadAtDoesNotStallCPU(t *testing.T) {
	g := &gateDev{reqs: make(chan *Request, 16)}
	d := NewDisk(g, Config{})
	defer d.Close()
	s := sched.NewSystem(1, sched.Options{})
	s.Start()
	defer s.Stop()
	var got []byte
	var rerr error
	var hit bool
	s.Run(0, sched.ThreadOpts{Name: "main"}, func(td *sched.Thread) {
		// The completer: polls for the gated request without blocking.
		td.Go(0, sched.ThreadOpts{Name: "completer"}, func(c *sched.Thread) {
			for {
				select {
				case r := <-g.reqs:
					for _, s := range r.Segs {
						for i := range s {
							s[i] = 0x5a
						}
					}
					g.done(r)
					return
				default:
					c.Yield()
				}
			}
		})
		got = make([]byte, 100)
		_, rerr = ObjectReadAt(td, d.Object(), got, 1000)
		// Now cached: the second read completes in place.
		b := make([]byte, 10)
		_, err := ObjectReadAt(td, d.Object(), b, 1010)
		hit = err == nil && b[0] == 0x5a && d.Object().Stats().Hits.Load() > 0
	})
	if rerr != nil || got[0] != 0x5a || got[99] != 0x5a || !hit {
		t.Fatalf("read %v %x hit %v", rerr, got[:4], hit)
	}
}
