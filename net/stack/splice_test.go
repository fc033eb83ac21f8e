package stack

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// An echo by splice: the server's ReadFrom moves every byte back through
// 64 KiB buffers (send and receive fill, so the splice waits on both
// sides), returns the count and nil at the client's FIN.
func TestSpliceEcho(t *testing.T) {
	e := newMsgEnv(t, 2)
	const n = 3<<20 + 1234
	data := pattern(7, n)
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		k, err := e.srv.ReadFrom(e.srv)
		done <- result{k, err}
	}()
	werr := make(chan error, 1)
	go func() {
		_, err := e.cli.Write(data)
		if err == nil {
			err = e.cli.CloseWrite()
		}
		werr <- err
	}()
	got := make([]byte, 0, n)
	buf := make([]byte, 50000)
	for len(got) < n {
		k, err := e.cli.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != n {
		t.Fatalf("ReadFrom: %d bytes, %v; want %d, nil", r.n, r.err, n)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("echoed bytes differ")
	}
	e.srv.CloseWrite()
	if k, err := e.cli.Read(buf); k != 0 || err != io.EOF {
		t.Fatalf("after the echo: %d, %v; want EOF", k, err)
	}
}

// A proxy on one thread: bytes from one connection spliced into another
// connection of the same thread, and a source on another stack copied
// through a buffer instead.
func TestSpliceProxy(t *testing.T) {
	e := newMsgEnv(t, 1)
	// B dials back to A: e.srv (B's side of A's connection) is the proxy's
	// inbound connection, out the outbound one; both on B's one thread.
	out, sink := dialAccept(t, e.b, e.a, 9)
	if out.p != e.srv.p {
		t.Fatal("the two connections are on different threads")
	}
	const n = 1 << 20
	data := pattern(8, n)
	go func() {
		e.cli.Write(data)
		e.cli.CloseWrite()
	}()
	proxied := make(chan error, 1)
	go func() {
		k, err := out.ReadFrom(e.srv)
		if err == nil && k != n {
			err = errors.New("short splice")
		}
		out.CloseWrite()
		proxied <- err
	}()
	got, err := io.ReadAll(sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-proxied; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("proxied %d bytes, want %d", len(got), n)
	}
	if st := e.b.Stats().Total; st.Splices != 1 || st.SpliceBytes != n {
		t.Fatalf("%d splices of %d bytes, want 1 of %d", st.Splices, st.SpliceBytes, n)
	}
}

// ReadFrom a connection of another stack copies through a buffer.
func TestReadFromOtherStack(t *testing.T) {
	e := newMsgEnv(t, 1)
	cli2, srv2 := dialAccept(t, e.a, e.b, 9)
	// srv (B) -> cli (A) -> srv2.ReadFrom(cli) (B) -> cli2 (A).
	data := pattern(9, 200000)
	go func() {
		e.srv.Write(data)
		e.srv.CloseWrite()
	}()
	copied := make(chan error, 1)
	go func() {
		k, err := srv2.ReadFrom(e.cli)
		if err == nil && k != int64(len(data)) {
			err = errors.New("short copy")
		}
		srv2.CloseWrite()
		copied <- err
	}()
	got, err := io.ReadAll(cli2)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-copied; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("copied %d bytes, want %d", len(got), len(data))
	}
	if st := e.b.Stats().Total; st.Splices != 0 {
		t.Fatalf("stack B spliced %d times", st.Splices)
	}
}

// A read deadline on the source (or a write deadline on the
// destination) that passes ends the splice with a timeout; Close ends it
// with net.ErrClosed.
func TestSpliceDeadlineAndClose(t *testing.T) {
	e := newMsgEnv(t, 2)
	e.srv.SetReadDeadline(time.Now().Add(-time.Second))
	k, err := e.srv.ReadFrom(e.srv)
	var ne net.Error
	if k != 0 || !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past read deadline: %d, %v", k, err)
	}
	e.srv.SetReadDeadline(time.Time{})
	// Some bytes go through, then the connection is closed under the
	// splice (or before it starts: the result is the same error).
	e.cli.Write([]byte("hello"))
	done := make(chan error, 1)
	go func() {
		_, err := e.srv.ReadFrom(e.srv)
		done <- err
	}()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(e.cli, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo before close: %q, %v", buf, err)
	}
	e.srv.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("splice after Close: %v", err)
	}
}
