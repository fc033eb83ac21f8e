package vfs_test

import (
	"errors"
	"sync"
	"testing"

	"damselfly/sched"
	"damselfly/vfs"
	"damselfly/vfs/memfs"
)

// TestPortLWKTSenders sends VOPs from an LWKT thread of the mount's own system (DoMsgThread):
// a getattr completes in the thread's context, a read is queued, served by a filesystem
// thread and replied to the sender's thread port.
func TestPortLWKTSenders(t *testing.T) {
	sys := sched.NewSystem(2, sched.Options{})
	sys.Start()
	defer sys.Stop()
	g := &gate{FS: memfs.New(fixedNow), release: make(chan struct{})}
	close(g.release)
	v := vfs.New(g, vfs.MountOptions{Sched: sys, Threads: 3}, vfs.Config{})
	defer v.Close()
	if err := v.WriteFile("f", []byte("lwkt"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := v.Stat("f")
	if err != nil {
		t.Fatal(err)
	}
	ino := st.Sys().(*vfs.Attr).Ino
	port := v.Mounts()[0].Port()
	if port.System() != sys {
		t.Fatal("port not served by the mount's system")
	}
	before := port.Stats()
	for cpu := 0; cpu < sys.NCPU(); cpu++ {
		sys.Run(cpu, sched.ThreadOpts{Name: "sender"}, func(td *sched.Thread) {
			m := &vfs.Msg{Op: vfs.OpGetattr, Ino: ino}
			if err := port.DoMsgThread(td, m); err != nil || m.Attr.Size != 4 {
				t.Errorf("getattr: %v %+v", err, m.Attr)
			}
			for i := 0; i < 5; i++ {
				m := &vfs.Msg{Op: vfs.OpRead, Ino: ino, Buf: make([]byte, 8)}
				if err := port.DoMsgThread(td, m); err != nil || string(m.Buf[:m.N]) != "lwkt" {
					t.Errorf("read: %v %q", err, m.Buf[:m.N])
				}
			}
		})
	}
	after := port.Stats()
	if got := after.FastPath - before.FastPath; got != 2 {
		t.Errorf("fast path %d, want 2 getattrs", got)
	}
	if got := after.Queued - before.Queued; got != 10 {
		t.Errorf("queued %d, want 10 reads", got)
	}
	for cpu := 0; cpu < 2; cpu++ {
		if f, q := after.FastPathBy[cpu]-before.FastPathBy[cpu], after.QueuedBy[cpu]-before.QueuedBy[cpu]; f != 1 || q != 5 {
			t.Errorf("from cpu%d threads: %d sync, %d queued; want 1, 5", cpu, f, q)
		}
	}
	if g := after.QueuedBy[2] - before.QueuedBy[2]; g != 0 {
		t.Errorf("%d queued from goroutines while only threads sent", g)
	}
	var served uint64
	for i, th := range after.Threads {
		served += th.Served - before.Threads[i].Served
		if th.CPU != i%2 {
			t.Errorf("thread %s on cpu %d", th.Name, th.CPU)
		}
	}
	if served != 10 {
		t.Errorf("threads served %d, want 10\n%v", served, after)
	}
}

// TestFSThreadDoesNotStallCPU: while the only filesystem thread of a one-CPU system waits
// for a VOP that blocks (on a Go channel, in the filesystem), other threads of that CPU run.
func TestFSThreadDoesNotStallCPU(t *testing.T) {
	sys := sched.NewSystem(1, sched.Options{})
	sys.Start()
	defer sys.Stop()
	g := &gate{FS: memfs.New(fixedNow), release: make(chan struct{})}
	v := vfs.New(g, vfs.MountOptions{Sched: sys, Threads: 1}, vfs.Config{})
	defer v.Close()
	if err := v.WriteFile("f", []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := v.ReadFile("f")
		done <- err
	}()
	for {
		g.mu.Lock()
		a := g.active
		g.mu.Unlock()
		if a == 1 {
			break
		}
		runtimeGosched()
	}
	ran := false
	sys.Run(0, sched.ThreadOpts{Name: "other"}, func(td *sched.Thread) { ran = true })
	if !ran {
		t.Fatal("thread did not run")
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPortCloseRace: readers keep sending while the mount closes; every call returns (its
// data, or EBADF once the port is closed) and nothing is left waiting.
func TestPortCloseRace(t *testing.T) {
	g := &gate{FS: memfs.New(fixedNow), release: make(chan struct{})}
	close(g.release)
	v := vfs.New(g, vfs.MountOptions{Threads: 2}, vfs.Config{})
	if err := v.WriteFile("f", []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := v.Stat("f")
	ino := st.Sys().(*vfs.Attr).Ino
	port := v.Mounts()[0].Port()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				m := &vfs.Msg{Op: vfs.OpRead, Ino: ino, Buf: make([]byte, 4)}
				err := port.DoMsg(m)
				if errors.Is(err, vfs.EBADF) {
					return
				}
				if err != nil || string(m.Buf[:m.N]) != "data" {
					t.Errorf("read: %v %q", err, m.Buf[:m.N])
					return
				}
			}
		}()
	}
	v.Close()
	wg.Wait()
	reply := make(chan *vfs.Msg, 1)
	port.SendMsg(&vfs.Msg{Op: vfs.OpRead, Ino: ino, Buf: make([]byte, 4)}, reply)
	if m := <-reply; !errors.Is(m.Err, vfs.EBADF) {
		t.Fatalf("send after close: %v", m.Err)
	}
}
