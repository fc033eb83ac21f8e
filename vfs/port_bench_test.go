package vfs_test

import (
	"testing"

	"damselfly/sched"
	"damselfly/vfs"
	"damselfly/vfs/memfs"
)

// slowPath is memfs with every VOP refused the fast path, so each one is queued to the
// filesystem threads.
type slowPath struct{ *memfs.FS }

func (slowPath) CanFastPath(*vfs.Msg) bool { return false }

func benchPort(b *testing.B, queued, lwkt bool) {
	sys := sched.NewSystem(2, sched.Options{})
	sys.Start()
	defer sys.Stop()
	var fsys vfs.Filesystem = memfs.New(fixedNow)
	if queued {
		fsys = slowPath{memfs.New(fixedNow)}
	}
	v := vfs.New(fsys, vfs.MountOptions{Sched: sys}, vfs.Config{})
	defer v.Close()
	port := v.Mounts()[0].Port()
	root := fsys.Root()
	b.ReportAllocs()
	if !lwkt {
		for b.Loop() {
			if err := port.DoMsg(&vfs.Msg{Op: vfs.OpGetattr, Ino: root}); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	sys.Run(0, sched.ThreadOpts{Name: "bench"}, func(td *sched.Thread) {
		for b.Loop() {
			if err := port.DoMsgThread(td, &vfs.Msg{Op: vfs.OpGetattr, Ino: root}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Getattr round trips through a mount's port, from a goroutine (the application API) and
// from an LWKT thread, completed in the sender (sync) or queued to a filesystem thread.
func BenchmarkPortSyncGoroutine(b *testing.B)   { benchPort(b, false, false) }
func BenchmarkPortQueuedGoroutine(b *testing.B) { benchPort(b, true, false) }
func BenchmarkPortSyncThread(b *testing.B)      { benchPort(b, false, true) }
func BenchmarkPortQueuedThread(b *testing.B)    { benchPort(b, true, true) }
