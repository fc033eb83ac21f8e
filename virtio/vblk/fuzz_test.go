package vblk_test

import (
	"testing"

	"damselfly/blk"
	"damselfly/virtio"
	"damselfly/virtio/vblk"
	"damselfly/virtio/virtiosim"
)

// FuzzConfig gives the driver arbitrary device configuration (capacity,
// seg_max, num_queues, discard limits) and feature offers: New either
// refuses the device or yields limits the block layer can use, without
// panicking.
func FuzzConfig(f *testing.F) {
	f.Add(make([]byte, 60), uint64(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint64(1<<12|1<<13|1<<2))
	f.Fuzz(func(t *testing.T, cfg []byte, feat uint64) {
		mem := virtiosim.NewMemory()
		sim := virtiosim.NewBlk(mem, make([]byte, 4096), virtiosim.BlkOptions{Queues: 2, QueueMax: 8, FailAt: -1})
		defer sim.Close()
		copy(sim.Config, cfg)
		sim.Features |= feat & (vblk.FeatureRO | vblk.FeatureSegMax | vblk.FeatureMQ | vblk.FeatureDiscard | vblk.FeatureFlush)
		tr, err := virtio.NewMMIO(virtiosim.MMIO{D: sim.Device})
		if err != nil {
			t.Fatal(err)
		}
		d, err := vblk.New(tr, mem, vblk.Options{})
		if err != nil {
			return
		}
		lim := d.Limits()
		if lim.MaxSegments < 1 || lim.QueueDepth < 1 || d.Size() < 0 || d.NumQueues() < 1 {
			t.Fatalf("unusable limits %+v size %d queues %d", lim, d.Size(), d.NumQueues())
		}
		var _ blk.Driver = d
	})
}
