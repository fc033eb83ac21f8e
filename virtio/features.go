package virtio

// Device status bits (virtio 1.2 §2.1).
const (
	StatusAcknowledge      = 1
	StatusDriver           = 2
	StatusDriverOK         = 4
	StatusFeaturesOK       = 8
	StatusDeviceNeedsReset = 64
	StatusFailed           = 128
)

// Reserved feature bits (virtio 1.2 §6).
const (
	FeatureIndirectDesc = 1 << 28 // VIRTIO_F_INDIRECT_DESC
	FeatureEventIdx     = 1 << 29 // VIRTIO_F_EVENT_IDX
	FeatureVersion1     = 1 << 32 // VIRTIO_F_VERSION_1
	FeatureAccessPlat   = 1 << 33 // VIRTIO_F_ACCESS_PLATFORM
	FeatureRingPacked   = 1 << 34 // VIRTIO_F_RING_PACKED (not used)
)

// Device IDs (virtio 1.2 §5).
const (
	DeviceNet   = 1
	DeviceBlock = 2
)
