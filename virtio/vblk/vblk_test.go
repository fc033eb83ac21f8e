package vblk_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"damselfly/blk"
	"damselfly/virtio"
	"damselfly/virtio/vblk"
	"damselfly/virtio/virtiosim"
	"damselfly/vm"
)

type rig struct {
	sim  *virtiosim.Blk
	drv  *vblk.Device
	disk *blk.Disk
}

func image(size int, seed uint64) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < size; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func newRig(t testing.TB, pci bool, img []byte, o virtiosim.BlkOptions, vo vblk.Options) *rig {
	t.Helper()
	mem := virtiosim.NewMemory()
	sim := virtiosim.NewBlk(mem, img, o)
	t.Cleanup(sim.Close)
	var tr virtio.Transport
	var err error
	if pci {
		tr, err = virtio.NewPCI(virtiosim.NewPCI(sim.Device))
	} else {
		tr, err = virtio.NewMMIO(virtiosim.MMIO{D: sim.Device})
	}
	if err != nil {
		t.Fatal(err)
	}
	if vo.Name == "" {
		vo.Name = "vda"
	}
	drv, err := vblk.New(tr, mem, vo)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetInterrupt(drv.Interrupt)
	d := blk.NewDisk(drv, blk.Config{Pool: vm.NewPool(512)})
	t.Cleanup(func() {
		d.Close()
		if errs := sim.Errs(); len(errs) != 0 {
			t.Errorf("device saw driver errors: %v", errs)
		}
	})
	return &rig{sim: sim, drv: drv, disk: d}
}

func TestReadWriteFlush(t *testing.T) {
	for _, pci := range []bool{false, true} {
		for _, o := range []virtiosim.BlkOptions{{}, {NoEvent: true, NoIndir: true, SegMax: 8}} {
			t.Run(fmt.Sprintf("pci=%v/%+v", pci, o), func(t *testing.T) {
				const size = 1<<20 + 512
				img := image(size, 1)
				want := bytes.Clone(img)
				o.FailAt = -1
				r := newRig(t, pci, img, o, vblk.Options{})
				if r.disk.Size() != size || r.disk.ReadOnly() {
					t.Fatalf("size %d ro %v", r.disk.Size(), r.disk.ReadOnly())
				}
				obj := r.disk.Object()
				got := make([]byte, size)
				if _, err := obj.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("read whole disk: %v", err)
				}
				// Parallel unaligned object writes, then sync and flush.
				var wg sync.WaitGroup
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						off := int64(w)*200000 + 333
						b := bytes.Repeat([]byte{byte(w + 1)}, 70000)
						if _, err := obj.WriteAt(b, off); err != nil {
							t.Error(err)
						}
					}()
					copy(want[int64(w)*200000+333:], bytes.Repeat([]byte{byte(w + 1)}, 70000))
				}
				wg.Wait()
				if err := obj.Sync(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(r.sim.Image(), want) {
					t.Fatal("image differs after sync")
				}
				// The last sector alone.
				if err := r.disk.WriteAt(bytes.Repeat([]byte{9}, 512), size-512); err != nil {
					t.Fatal(err)
				}
				if img := r.sim.Image(); img[size-1] != 9 {
					t.Fatal("last sector not written")
				}
				if err := r.disk.ReadAt(make([]byte, 1024), size-512); !errors.Is(err, blk.ErrBeyondEnd) {
					t.Fatalf("read past end: %v", err)
				}
				if err := r.disk.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := r.drv.Queue(0).Check(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestReadOnlyIDDiscardErrors(t *testing.T) {
	img := image(64<<10, 2)
	r := newRig(t, false, img, virtiosim.BlkOptions{ReadOnly: true, ID: "damselfly-disk-0", FailAt: -1}, vblk.Options{Name: "vdb"})
	if !r.disk.ReadOnly() {
		t.Fatal("VIRTIO_BLK_F_RO not honoured")
	}
	if err := r.disk.WriteAt(make([]byte, 512), 0); !errors.Is(err, blk.ErrReadOnly) || !bytes.Contains([]byte(err.Error()), []byte("vdb")) {
		t.Fatalf("write on read-only: %v", err)
	}
	id, err := r.drv.ID()
	if err != nil || id != "damselfly-disk-0" {
		t.Fatalf("id %q %v", id, err)
	}
	if r.disk.Limits().Discard {
		t.Fatal("discard claimed but not offered")
	}

	// Discard offered; device I/O error reported with name and offset.
	img2 := image(64<<10, 3)
	r2 := newRig(t, true, img2, virtiosim.BlkOptions{Discard: true, FailAt: 40960 + 100}, vblk.Options{Name: "vdc"})
	if !r2.disk.Limits().Discard {
		t.Fatal("discard not negotiated")
	}
	if err := r2.disk.DoBio(&blk.Bio{Op: blk.OpDiscard, Off: 4096, Len: 8192}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r2.sim.Image()[4096:12288], make([]byte, 8192)) {
		t.Fatal("discard did not zero the range")
	}
	err = r2.disk.ReadAt(make([]byte, 4096), 40960)
	var be *blk.Error
	if !errors.Is(err, blk.ErrIO) || !errors.As(err, &be) || be.Dev != "vdc" || be.Off != 40960 {
		t.Fatalf("device error: %v", err)
	}
}

func TestMultiqueue(t *testing.T) {
	img := image(4<<20, 4)
	r := newRig(t, false, img, virtiosim.BlkOptions{Queues: 4, QueueMax: 16, FailAt: -1}, vblk.Options{Queues: 3})
	if r.drv.NumQueues() != 3 || r.drv.Features()&vblk.FeatureMQ == 0 {
		t.Fatalf("%d queues", r.drv.NumQueues())
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 16 {
				off := int64(w)*512<<10 + int64(i)*8192
				b := make([]byte, 4096)
				if err := r.disk.ReadAt(b, off); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(b, img[off:off+4096]) {
					t.Errorf("read %d wrong", off)
					return
				}
			}
		}()
	}
	wg.Wait()
	for q := range 3 {
		if r.sim.Served(q) == 0 {
			t.Fatalf("queue %d served nothing", q)
		}
	}
}

// The guest self-test end to end: virtio-blk driver over a simulated
// device, through the block layer and the VM object.
func TestSelfTestOverVirtio(t *testing.T) {
	const size = 2<<20 + 3*512
	img := image(size, 5)
	orig := bytes.Clone(img)
	r := newRig(t, true, img, virtiosim.BlkOptions{Queues: 2, FailAt: -1}, vblk.Options{})
	sum, n, err := blk.SelfTest(r.disk, 3, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	if n != size || sum != sha256.Sum256(orig) {
		t.Fatalf("bytes %d sum %x", n, sum)
	}
	after := r.sim.Image()
	half := size / 512 / 2 * 512
	if !bytes.Equal(after[half:2*half], orig[:half]) || !bytes.Equal(after[2*half:], orig[2*half:]) || !bytes.Equal(after[:half], orig[:half]) {
		t.Fatal("copy wrong")
	}
}

func BenchmarkVirtioRead4K(b *testing.B) {
	img := make([]byte, 16<<20)
	r := newRig(b, false, img, virtiosim.BlkOptions{FailAt: -1}, vblk.Options{})
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	i := 0
	for b.Loop() {
		if err := r.disk.ReadAt(buf, int64(i%4096)*4096); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkVirtioWrite64KParallel(b *testing.B) {
	img := make([]byte, 16<<20)
	r := newRig(b, false, img, virtiosim.BlkOptions{FailAt: -1}, vblk.Options{})
	b.SetBytes(64 << 10)
	var mu sync.Mutex
	n := 0
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 64<<10)
		for pb.Next() {
			mu.Lock()
			i := n
			n++
			mu.Unlock()
			if err := r.disk.WriteAt(buf, int64(i%256)*(64<<10)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// With interrupts not delivered at all, a disk with a poll interval still
// completes I/O: waiting DoBios reap the used ring themselves.
func TestPollingWithoutInterrupts(t *testing.T) {
	img := image(1<<20, 6)
	mem := virtiosim.NewMemory()
	sim := virtiosim.NewBlk(mem, img, virtiosim.BlkOptions{FailAt: -1})
	defer sim.Close()
	tr, err := virtio.NewMMIO(virtiosim.MMIO{D: sim.Device})
	if err != nil {
		t.Fatal(err)
	}
	drv, err := vblk.New(tr, mem, vblk.Options{Name: "vdp"})
	if err != nil {
		t.Fatal(err)
	}
	// No sim.SetInterrupt: the device raises nothing the driver hears.
	d := blk.NewDisk(drv, blk.Config{PollInterval: 50 * time.Microsecond})
	defer d.Close()
	got := make([]byte, 64<<10)
	if _, err := d.Object().ReadAt(got, 4096); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, img[4096:4096+64<<10]) {
		t.Fatal("data wrong")
	}
	if err := d.WriteAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	if d.Stats().Polls.Load() == 0 || drv.Interrupts.Load() != 0 {
		t.Fatalf("polls %d interrupts %d", d.Stats().Polls.Load(), drv.Interrupts.Load())
	}
}

// A bio's CPU hint picks the queue: CPU n uses queue n.
func TestQueuePerCPU(t *testing.T) {
	img := image(1<<20, 7)
	r := newRig(t, false, img, virtiosim.BlkOptions{Queues: 4, FailAt: -1}, vblk.Options{Queues: 4})
	for cpu := range 4 {
		before := r.sim.Served(cpu)
		b := &blk.Bio{Op: blk.OpRead, Off: int64(cpu) * 4096, Buf: make([]byte, 4096), CPU: cpu + 1}
		if err := r.disk.DoBio(b); err != nil {
			t.Fatal(err)
		}
		if r.sim.Served(cpu) != before+1 {
			t.Fatalf("CPU %d's read not served by queue %d", cpu, cpu)
		}
	}
}

// MSI-X on the PCI transport: the table is programmed with the board's
// messages, each queue gets its vector, and completions arrive as messages
// on the queues' vectors (the legacy line stays silent).
func TestMSIX(t *testing.T) {
	img := image(1<<20, 8)
	mem := virtiosim.NewMemory()
	sim := virtiosim.NewBlk(mem, img, virtiosim.BlkOptions{Queues: 3, FailAt: -1})
	defer sim.Close()
	tr, err := virtio.NewPCI(virtiosim.NewPCI(sim.Device))
	if err != nil {
		t.Fatal(err)
	}
	n, err := tr.EnableMSIX(func(v int) (uint64, uint32) { return 0xfee00000, uint32(0x40 + v) })
	if err != nil || n != 4 {
		t.Fatalf("EnableMSIX: %d vectors, %v", n, err)
	}
	for v := range n {
		if addr, data, masked := sim.MSIXEntry(v); addr != 0xfee00000 || data != uint32(0x40+v) || masked {
			t.Fatalf("entry %d: %#x %#x masked=%v", v, addr, data, masked)
		}
	}
	drv, err := vblk.New(tr, mem, vblk.Options{Name: "vdm", Queues: 3})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint16]int{}
	sim.SetMSIXHandler(func(v uint16) {
		mu.Lock()
		seen[v]++
		mu.Unlock()
		for q := range drv.NumQueues() {
			if tr.QueueVector(q) == int(v) {
				drv.InterruptQueue(q)
			}
		}
	})
	sim.SetInterrupt(func() { t.Error("legacy interrupt with MSI-X enabled") })
	d := blk.NewDisk(drv, blk.Config{})
	defer d.Close()
	for cpu := range 3 {
		b := &blk.Bio{Op: blk.OpRead, Off: int64(cpu) * 4096, Buf: make([]byte, 4096), CPU: cpu + 1}
		if err := d.DoBio(b); err != nil || !bytes.Equal(b.Buf, img[cpu*4096:(cpu+1)*4096]) {
			t.Fatalf("read on queue %d: %v", cpu, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for q := range 3 {
		if seen[uint16(tr.QueueVector(q))] == 0 {
			t.Fatalf("no message on queue %d's vector %d: %v", q, tr.QueueVector(q), seen)
		}
	}
}

// blk_size becomes the I/O granule when it divides the capacity.
func TestBlkSize(t *testing.T) {
	img := image(1<<20, 9)
	r := newRig(t, false, img, virtiosim.BlkOptions{BlkSize: 4096, FailAt: -1}, vblk.Options{})
	if r.disk.Limits().SectorSize != 4096 {
		t.Fatalf("sector size %d", r.disk.Limits().SectorSize)
	}
	if err := r.disk.WriteAt(make([]byte, 512), 512); !errors.Is(err, blk.ErrMisaligned) {
		t.Fatalf("512-byte write on a 4 KiB device: %v", err)
	}
	b := make([]byte, 100)
	if _, err := r.disk.Object().ReadAt(b, 5000); err != nil || !bytes.Equal(b, img[5000:5100]) {
		t.Fatalf("object read: %v", err)
	}
	odd := image(1<<20+512, 10)
	r2 := newRig(t, false, odd, virtiosim.BlkOptions{BlkSize: 4096, FailAt: -1}, vblk.Options{})
	if r2.disk.Limits().SectorSize != 512 {
		t.Fatalf("capacity not a multiple of blk_size: sector size %d", r2.disk.Limits().SectorSize)
	}
}
