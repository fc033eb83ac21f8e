// Package echotest holds the echo server that tests of the network path
// share.
package echotest

import "net"

// ServeReads answers every connection l accepts by writing back what each
// Read returned, through a buffer of size bytes, and half-closes at the
// peer's EOF (connections with a CloseWrite method). Reads and writes
// rather than io.Copy, which would take a stack's splice path: the tests
// that use it want the application's large writes on the wire (room for
// TSO frames). It returns at once; the server stops when l is closed.
func ServeReads(l net.Listener, size int) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go echo(c, size)
		}
	}()
}

func echo(c net.Conn, size int) {
	defer c.Close()
	buf := make([]byte, size)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if hc, ok := c.(interface{ CloseWrite() error }); ok {
				hc.CloseWrite()
			}
			return
		}
	}
}
