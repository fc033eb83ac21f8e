package httpd

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
)

// Port numbers of the raw-throughput services.
const (
	EchoPort    = 7 // RFC 862
	DiscardPort = 9 // RFC 863
)

// StreamStats counts what a stream service moved.
type StreamStats struct {
	Conns atomic.Uint64
	Bytes atomic.Uint64
}

// ServeEcho accepts connections on l and writes back every byte it reads,
// until l is closed. It returns nil when l was closed, else the accept error.
func ServeEcho(l net.Listener, st *StreamStats) error {
	return serveStream(l, st, func(c net.Conn) (int64, error) {
		// io.CopyBuffer takes the connection's own ReadFrom where it has
		// one: splice(2) on Linux, and on Damselfly's stack a splice on
		// the protocol thread (net/stack/splice.go), so the bytes never
		// pass through buf. Otherwise a 256 KiB buffer: io.Copy's 32 KiB
		// made a read and a write call per 32 KiB.
		return io.CopyBuffer(c, c, make([]byte, streamBuf))
	})
}

// streamBuf is the echo service's copy buffer.
const streamBuf = 256 << 10

// ServeDiscard accepts connections on l and reads and drops everything.
func ServeDiscard(l net.Listener, st *StreamStats) error {
	return serveStream(l, st, func(c net.Conn) (int64, error) { return io.Copy(io.Discard, c) })
}

func serveStream(l net.Listener, st *StreamStats, handle func(net.Conn) (int64, error)) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if st != nil {
			st.Conns.Add(1)
		}
		go func() {
			defer c.Close()
			n, _ := handle(c)
			if st != nil {
				st.Bytes.Add(uint64(n))
			}
		}()
	}
}
