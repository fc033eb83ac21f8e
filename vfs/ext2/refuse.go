package ext2

import (
	"errors"
	"fmt"

	"damselfly/vfs"
)

// ErrRefused is wrapped by every error that rejects a disk at mount: the disk failed validation
// or asks for something this package does not do. The message carries the reason.
var ErrRefused = errors.New("ext2: disk refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// corrupt reports on-disk metadata found inconsistent after mount; it wraps vfs.EIO.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("ext2: corrupt: %s: %w", fmt.Sprintf(format, args...), vfs.EIO)
}
