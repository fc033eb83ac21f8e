package virtiosim

import "fmt"

func errBadQueue(i int, n uint16) error {
	return fmt.Errorf("virtiosim: queue %d enabled with bad size %d", i, n)
}

// Report records a driver error found by device logic.
func (d *Device) Report(err error) {
	d.mu.Lock()
	d.errorf(err)
	d.mu.Unlock()
}
