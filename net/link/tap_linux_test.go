//go:build linux

package link

import (
	"os"
	"testing"
)

func TestTapOpen(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("tap: needs root for /dev/net/tun")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("tap: no /dev/net/tun")
	}
	tap, err := OpenTap("dftaptest0", [6]byte{2, 0, 0, 0, 0, 1}, 1500)
	if err != nil {
		t.Skipf("tap: %v", err)
	}
	tap.SetReceiver(func([]byte, RSS) {})
	if err := tap.Close(); err != nil {
		t.Fatal(err)
	}
}
