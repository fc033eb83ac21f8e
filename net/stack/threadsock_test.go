package stack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"

	"damselfly/sched"
)

// An LWKT thread on the connection's CPU writes and reads an echo
// connection with the thread socket calls: the data comes back intact,
// and some of its DoMsgs were served in its own context.
func TestThreadSocketCalls(t *testing.T) {
	e := newMsgEnv(t, 2)
	l, err := e.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 77), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echoServer(t, l)
	c, err := e.a.DialTCPFrom(context.Background(), 0, netip.AddrPortFrom(e.b.Addr(), 77))
	if err != nil {
		t.Fatal(err)
	}
	if c.Thread() != 0 {
		t.Fatalf("dial from cpu 0 landed on thread %d", c.Thread())
	}
	inline0, _ := c.p.loop.Counters()
	data := pattern(9, 300_000) // several sends, more than the 64 KiB buffers
	got := make([]byte, 0, len(data))
	var werr, rerr, cerr error
	var wn int
	e.sys.Run(0, sched.ThreadOpts{Name: "user", Prio: sched.PriUser}, func(td *sched.Thread) {
		// One thread, so write a slice at a time and read the echo back
		// before the peer's buffers fill.
		buf := make([]byte, 32<<10)
		for off := 0; off < len(data) && werr == nil; off += 40_000 {
			part := data[off:min(off+40_000, len(data))]
			var n int
			n, werr = c.WriteThread(td, part)
			wn += n
			for want := off + n; len(got) < want && rerr == nil; {
				var k int
				k, rerr = c.ReadThread(td, buf)
				got = append(got, buf[:k]...)
			}
		}
		cerr = c.CloseThread(td)
	})
	if werr != nil || rerr != nil || cerr != nil {
		t.Fatalf("write %v read %v close %v", werr, rerr, cerr)
	}
	if wn != len(data) || !bytes.Equal(got, data) {
		t.Fatalf("wrote %d, echoed %d bytes, equal %v", wn, len(got), bytes.Equal(got, data))
	}
	if inline, _ := c.p.loop.Counters(); inline == inline0 {
		t.Fatal("no DoMsg of the thread on the connection's CPU was served inline")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Fatalf("read after CloseThread: %v", err)
	}
}

// A Close from a goroutine ends an LWKT thread's ReadThread, whether it
// was already asleep or not.
func TestReadThreadEndsOnClose(t *testing.T) {
	e := newMsgEnv(t, 2)
	var rerr error
	started := make(chan struct{})
	td := e.sys.GoExternal(e.cli.p.loop.Thread().CPU().ID(), sched.ThreadOpts{Name: "reader", Prio: sched.PriUser},
		func(td *sched.Thread) {
			close(started)
			_, rerr = e.cli.ReadThread(td, make([]byte, 10))
		})
	<-started
	e.cli.Close()
	<-td.Done()
	if !errors.Is(rerr, net.ErrClosed) {
		t.Fatalf("ReadThread after Close: %v, want net.ErrClosed", rerr)
	}
}
