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
			msg.Init(nil, 0)
			return td.DoMsg(port, msg)
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
