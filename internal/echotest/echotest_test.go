package echotest

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// Over the host's loopback TCP: what is written comes back, and the
// server half-closes after the client's EOF.
func TestServeReads(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback TCP:", err)
	}
	defer l.Close()
	ServeReads(l, 1000) // smaller than the data: several reads
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("damselfly "), 3000)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c) // ends only if the server half-closed
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes, want %d", len(got), len(data))
	}
}
