package virtio

import (
	"errors"
	"fmt"
)

// Transport is what a device driver needs from MMIO (§4.2) or PCI (§4.1).
type Transport interface {
	DeviceID() uint32
	DeviceFeatures() uint64
	SetDriverFeatures(f uint64)
	Status() uint8
	SetStatus(s uint8) // 0 resets the device
	// MaxQueueSize returns the largest size queue q may have; 0 if the
	// device has no such queue.
	MaxQueueSize(q int) int
	// SetQueue programs a queue's size and ring addresses and enables it.
	SetQueue(q *Queue) error
	Notify(q int)
	ConfigGeneration() uint32
	ReadConfig8(off uint32) uint8
	ReadConfig16(off uint32) uint16
	ReadConfig32(off uint32) uint32
	// AckInterrupt reads and acknowledges the interrupt status (bit 0: a
	// used buffer, bit 1: a configuration change).
	AckInterrupt() uint32
}

// ErrNoVersion1 is returned for legacy-only devices.
var ErrNoVersion1 = errors.New("virtio: device does not offer VIRTIO_F_VERSION_1")

// resetSpins bounds the wait for a device to finish a reset (§4.1.4.3.2:
// the driver re-reads device_status until it reads 0).
const resetSpins = 1 << 20

// Init runs the first part of driver initialization (§3.1.1): reset,
// ACKNOWLEDGE, DRIVER, feature negotiation (the offered features that are
// in want, plus VERSION_1 which is required), FEATURES_OK and its check.
// The driver then sets up its queues and calls Ready.
func Init(t Transport, want uint64) (uint64, error) {
	t.SetStatus(0)
	for i := 0; t.Status() != 0; i++ {
		if i == resetSpins {
			return 0, fmt.Errorf("virtio: device %d did not reset", t.DeviceID())
		}
	}
	t.SetStatus(StatusAcknowledge)
	t.SetStatus(StatusAcknowledge | StatusDriver)
	offered := t.DeviceFeatures()
	if offered&FeatureVersion1 == 0 {
		t.SetStatus(StatusAcknowledge | StatusDriver | StatusFailed)
		return 0, ErrNoVersion1
	}
	f := offered&want | FeatureVersion1
	t.SetDriverFeatures(f)
	t.SetStatus(StatusAcknowledge | StatusDriver | StatusFeaturesOK)
	if t.Status()&StatusFeaturesOK == 0 {
		t.SetStatus(StatusAcknowledge | StatusDriver | StatusFailed)
		return 0, fmt.Errorf("virtio: device %d refused features %#x", t.DeviceID(), f)
	}
	return f, nil
}

// Ready sets DRIVER_OK: the device is live.
func Ready(t Transport) {
	t.SetStatus(StatusAcknowledge | StatusDriver | StatusFeaturesOK | StatusDriverOK)
}

// Fail tells the device the driver gave up.
func Fail(t Transport) { t.SetStatus(t.Status() | StatusFailed) }

// ReadConfig64 reads a 64-bit config field as two 32-bit halves, retrying
// while the configuration generation changes under it (§2.5.1).
func ReadConfig64(t Transport, off uint32) uint64 {
	for {
		g := t.ConfigGeneration()
		lo := t.ReadConfig32(off)
		hi := t.ReadConfig32(off + 4)
		if t.ConfigGeneration() == g {
			return uint64(hi)<<32 | uint64(lo)
		}
	}
}
