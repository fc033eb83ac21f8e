package virtio_test

import (
	"testing"

	"damselfly/virtio"
	"damselfly/virtio/virtiosim"
)

// A reset unmaps the configuration vector (as QEMU's does); the transport
// maps it again when the driver starts over, so a driver that enabled
// MSI-X before virtio.Init keeps its configuration interrupt.
func TestMSIXConfigVectorAfterReset(t *testing.T) {
	mem := virtiosim.NewMemory()
	dev := virtiosim.NewDevice(virtio.DeviceBlock, virtio.FeatureVersion1, make([]byte, 8), 2, 8, mem, nil)
	defer dev.Close()
	tr, err := virtio.NewPCI(virtiosim.NewPCI(dev))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.EnableMSIX(func(v int) (uint64, uint32) { return 0xfee00000, uint32(0x40 + v) }); err != nil {
		t.Fatal(err)
	}
	if v := dev.ConfigVector(); v != 0 {
		t.Fatalf("config vector %#x after EnableMSIX", v)
	}
	if _, err := virtio.Init(tr, 0); err != nil {
		t.Fatal(err)
	}
	if v := dev.ConfigVector(); v != 0 {
		t.Fatalf("config vector %#x after the reset in Init", v)
	}
}

// EnableMSIXVectors uses only the vectors asked for: the rest of the
// table stays masked and every queue shares vector 1.
func TestMSIXVectorLimit(t *testing.T) {
	mem := virtiosim.NewMemory()
	dev := virtiosim.NewDevice(virtio.DeviceBlock, virtio.FeatureVersion1, make([]byte, 8), 4, 8, mem, nil)
	defer dev.Close()
	tr, err := virtio.NewPCI(virtiosim.NewPCI(dev))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tr.MSIXTableSize(); n != 5 || err != nil {
		t.Fatalf("table size %d, %v", n, err)
	}
	n, err := tr.EnableMSIXVectors(2, func(v int) (uint64, uint32) { return 0xfee00000, uint32(0x50 + v) })
	if err != nil || n != 2 {
		t.Fatalf("EnableMSIXVectors(2): %d, %v", n, err)
	}
	for v := 0; v < 5; v++ {
		_, data, masked := dev.MSIXEntry(v)
		if (v < 2) == masked || (v < 2 && data != uint32(0x50+v)) {
			t.Errorf("entry %d: data %#x masked %v", v, data, masked)
		}
	}
	for q := 0; q < 4; q++ {
		if v := tr.QueueVector(q); v != 1 {
			t.Errorf("queue %d on vector %d", q, v)
		}
	}
}
