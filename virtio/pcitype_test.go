package virtio_test

import (
	"testing"

	"damselfly/virtio"
)

func TestPCIDeviceType(t *testing.T) {
	for _, tt := range []struct {
		vendor, device, sub uint16
		id                  uint32
		ok                  bool
	}{
		{0x1af4, 0x1041, 0, virtio.DeviceNet, true},
		{0x1af4, 0x1042, 0, virtio.DeviceBlock, true},
		{0x1af4, 0x107f, 0, 0x3f, true},
		{0x1af4, 0x1080, 0, 0, false},               // beyond the modern range
		{0x1af4, 0x1000, 1, virtio.DeviceNet, true}, // transitional net
		{0x1af4, 0x1001, 2, virtio.DeviceBlock, true},
		{0x1af4, 0x1001, 0, 0, false}, // transitional without a type
		{0x1af4, 0x0fff, 2, 0, false},
		{0x8086, 0x1041, 0, 0, false},
	} {
		id, ok := virtio.PCIDeviceType(tt.vendor, tt.device, tt.sub)
		if id != tt.id || ok != tt.ok {
			t.Errorf("%04x:%04x sub %d: %d %v, want %d %v", tt.vendor, tt.device, tt.sub, id, ok, tt.id, tt.ok)
		}
	}
}
