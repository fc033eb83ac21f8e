//go:build linux

package link

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"damselfly/net/ether"
)

// From <linux/if_tun.h>: TUNSETIFF is _IOW('T', 202, int); the flags
// select an Ethernet (tap) device without the 4-byte packet-info prefix.
const (
	tunSetIff = 0x400454ca
	iffTap    = 0x0002
	iffNoPI   = 0x1000
	ifNameSiz = 16
)

// ifreq is struct ifreq with the flags member of its union (40 bytes).
type ifreq struct {
	name  [ifNameSiz]byte
	flags uint16
	_     [22]byte
}

// Tap is a Linux tap device used as a link. The stack is a separate host
// on the tap's wire, with its own MAC; Linux's side of the tap is the
// peer.
type Tap struct {
	f    *os.File
	name string
	mac  ether.MAC
	mtu  int

	mu     sync.Mutex
	recv   Receiver
	closed bool
	done   chan struct{}
}

// OpenTap attaches to (or creates) the tap device name. mac is the
// address our stack uses on that wire; mtu the IP MTU (1500 normally).
func OpenTap(name string, mac ether.MAC, mtu int) (*Tap, error) {
	if len(name) >= ifNameSiz {
		return nil, fmt.Errorf("link: tap name %q too long", name)
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("link: open /dev/net/tun: %w", err)
	}
	var req ifreq
	copy(req.name[:], name)
	req.flags = iffTap | iffNoPI
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&req))); e != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("link: TUNSETIFF %s: %w", name, e)
	}
	// A non-blocking descriptor handed to os.NewFile joins the runtime
	// poller, so Read blocks only the goroutine and Close wakes it.
	t := &Tap{f: os.NewFile(uintptr(fd), "/dev/net/tun:"+name), name: name, mac: mac, mtu: mtu, done: make(chan struct{})}
	return t, nil
}

func (t *Tap) MTU() int       { return t.mtu }
func (t *Tap) MAC() ether.MAC { return t.mac }
func (t *Tap) Name() string   { return t.name }

// SetReceiver installs r and starts the reader goroutine.
func (t *Tap) SetReceiver(r Receiver) {
	t.mu.Lock()
	start := t.recv == nil
	t.recv = r
	t.mu.Unlock()
	if start {
		go t.readLoop()
	}
}

func (t *Tap) readLoop() {
	defer close(t.done)
	for {
		buf := make([]byte, ether.HeaderLen+t.mtu+4)
		n, err := t.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			t.mu.Lock()
			closed := t.closed
			t.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		t.mu.Lock()
		r := t.recv
		t.mu.Unlock()
		r(buf[:n], RSS{})
	}
}

// Send writes one frame; each write on a tap is one frame.
func (t *Tap) Send(frame []byte) error {
	if _, err := t.f.Write(frame); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("link: tap %s write: %w", t.name, err)
	}
	return nil
}

// Close releases the device and stops the reader.
func (t *Tap) Close() error {
	t.mu.Lock()
	t.closed = true
	started := t.recv != nil
	t.mu.Unlock()
	err := t.f.Close()
	if started {
		<-t.done
	}
	return err
}
