package httpd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	pathpkg "path"
	"sync"
)

// WarmUp sends GET path through a real http.Server serving h over an
// in-memory connection (net.Pipe) and returns the response's status code.
//
// Under an emulator that translates code the first time it runs (QEMU's
// TCG), the first request costs far more than the next: net/http's
// connection, request parsing and response paths, the handler and the file
// system's read path are all new. A boot that runs one request while it
// waits for something else (the network device) answers its first real
// client sooner. The request is real work: the file is read from the disk
// into the page cache the real request then hits. Pass a handler whose
// counters do not matter (a second httpd.New over the same files): this
// request is not a client's.
func WarmUp(h http.Handler, path string) (int, error) {
	client, server := net.Pipe()
	l := &oneConn{c: server, done: make(chan struct{})}
	srv := &http.Server{Handler: h}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		<-served
	}()
	defer client.Close()
	if _, err := fmt.Fprintf(client, "GET %s HTTP/1.1\r\nHost: warm-up\r\nConnection: close\r\n\r\n", path); err != nil {
		return 0, fmt.Errorf("httpd: warm-up: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil {
		return 0, fmt.Errorf("httpd: warm-up: %w", err)
	}
	defer resp.Body.Close()
	var sink [4096]byte
	for {
		if _, err := resp.Body.Read(sink[:]); err != nil {
			break
		}
	}
	return resp.StatusCode, nil
}

// oneConn is a listener that accepts c once, then blocks until closed.
type oneConn struct {
	mu     sync.Mutex
	c      net.Conn
	done   chan struct{}
	closed bool
}

var errListenerClosed = errors.New("httpd: warm-up listener closed")

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, errListenerClosed
}

func (l *oneConn) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	return nil
}

func (l *oneConn) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "warm-up" }

// WarmFiles reads what GET path would serve from fsys (the index of a
// directory), without HTTP: the lookups, the file's blocks into the page
// cache and the file system's read path run once, for less work than
// WarmUp where the HTTP side is already warm or must not compete for the
// CPUs. It returns the bytes read.
func WarmFiles(fsys fs.FS, path string) (int64, error) {
	name, ok := fsName(path)
	if !ok {
		return 0, fmt.Errorf("httpd: warm-up: bad path %q", path)
	}
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return 0, fmt.Errorf("httpd: warm-up: %w", err)
	}
	if fi.IsDir() {
		name = pathpkg.Join(name, "index.html")
	}
	f, err := fsys.Open(name)
	if err != nil {
		return 0, fmt.Errorf("httpd: warm-up: %w", err)
	}
	defer f.Close()
	n, err := io.Copy(io.Discard, f)
	if err != nil {
		return n, fmt.Errorf("httpd: warm-up: %w", err)
	}
	return n, nil
}
