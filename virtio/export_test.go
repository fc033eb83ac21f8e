package virtio

// CheckQueue exposes the free-list invariant check to the external tests.
var CheckQueue = (*Queue).Check
