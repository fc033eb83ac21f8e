//go:build linux

package main

import (
	"bufio"
	"os"
	"sync"
	"time"

	"damselfly/net/link"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// capture wraps an endpoint and writes every frame sent and received to a
// pcap file (-pcap), since the bench machines have no tcpdump.
type capture struct {
	link.Endpoint
	mu sync.Mutex // guards w and f
	f  *os.File
	bw *bufio.Writer
	w  *pcapgo.Writer
}

func newCapture(ep link.Endpoint, path string) (*capture, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, err
	}
	return &capture{Endpoint: ep, f: f, bw: bw, w: w}, nil
}

func (c *capture) record(frame []byte) {
	c.mu.Lock()
	c.w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(frame), Length: len(frame)}, frame)
	c.mu.Unlock()
}

func (c *capture) Send(frame []byte) error {
	c.record(frame)
	return c.Endpoint.Send(frame)
}

func (c *capture) SetReceiver(r link.Receiver) {
	c.Endpoint.SetReceiver(func(f []byte, rss link.RSS) {
		c.record(f)
		r(f, rss)
	})
}

func (c *capture) Close() error {
	err := c.Endpoint.Close()
	c.mu.Lock()
	c.bw.Flush()
	c.f.Close()
	c.mu.Unlock()
	return err
}
