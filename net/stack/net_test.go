package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"damselfly/net/link"
)

// livePair is two stacks on goroutine threads and the real clock.
type livePair struct {
	pipe *link.Pipe
	a, b *Stack
	stop chan struct{}
}

func newLivePair(t testing.TB, na, nb int, part Partition, im link.Impairments) *livePair {
	t.Helper()
	lp := &livePair{stop: make(chan struct{})}
	pc := link.PipeConfig{AtoB: im, BtoA: im, Seed: 42}
	if _, bench := t.(*testing.B); !bench {
		rec := newRecorder(20000)
		rec.writeOnFailure(t)
		pc.Observe = rec.observe
	}
	lp.pipe = link.NewPipe(pc)
	go lp.pipe.RunTimer(lp.stop)
	var err error
	lp.a, err = New(Config{Link: lp.pipe.A, Addr: addrA, Threads: na, Partition: part})
	if err != nil {
		t.Fatal(err)
	}
	lp.b, err = New(Config{Link: lp.pipe.B, Addr: addrB, Threads: nb, Partition: part})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lp.a.Close()
		lp.b.Close()
		close(lp.stop)
	})
	return lp
}

func pattern(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// echoServer copies each connection back to itself.
func echoServer(t testing.TB, l *TCPListener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*TCPConn).CloseWrite()
			}()
		}
	}()
}

// exchange sends n bytes through an echo connection and checks every byte.
func exchange(t testing.TB, s *Stack, dst netip.AddrPort, n int, seed int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.DialTCP(ctx, dst)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	data := pattern(seed, n)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Errorf("read after %d bytes: %v", len(got), err)
		return
	}
	if err := <-werr; err != nil {
		t.Error(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("echo of %d bytes came back as %d bytes, sha %x vs %x", n, len(got), sha256.Sum256(got), sha256.Sum256(data))
	}
}

func TestTCPEchoAcrossThreads(t *testing.T) {
	for _, part := range []Partition{Ports{}, Toeplitz{}} {
		t.Run(part.Name(), func(t *testing.T) {
			lp := newLivePair(t, 3, 2, part, link.Impairments{})
			l, err := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 64)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			echoServer(t, l)
			var wg sync.WaitGroup
			for i := 0; i < 12; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					exchange(t, lp.a, netip.AddrPortFrom(lp.b.Addr(), 7), 100_000+i*7919, int64(i))
				}()
			}
			wg.Wait()
			sa, sb := lp.a.Stats(), lp.b.Stats()
			// Software steering by the same partition: no packet ever
			// reaches a thread that does not own it.
			if sa.Total.HopsOut != 0 || sb.Total.HopsOut != 0 {
				t.Fatalf("hops: A %d B %d", sa.Total.HopsOut, sb.Total.HopsOut)
			}
			for _, st := range []Stats{sa, sb} {
				for _, ts := range st.Threads {
					if ts.TCP.ActiveOpens+ts.TCP.PassiveOpen == 0 {
						t.Errorf("thread %d opened no connections", ts.Thread)
					}
				}
			}
			if sa.Total.TCP.ActiveOpens != 12 || sb.Total.TCP.PassiveOpen != 12 {
				t.Fatalf("opens: %d active, %d passive", sa.Total.TCP.ActiveOpens, sb.Total.TCP.PassiveOpen)
			}
		})
	}
}

func TestDialFromLandsOnCPU(t *testing.T) {
	for _, part := range []Partition{Ports{}, Toeplitz{}} {
		lp := newLivePair(t, 3, 5, part, link.Impairments{})
		l, _ := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 16)
		echoServer(t, l)
		for cpu := 0; cpu < 6; cpu++ {
			c, err := lp.a.DialTCPFrom(context.Background(), cpu, netip.AddrPortFrom(lp.b.Addr(), 7))
			if err != nil {
				t.Fatal(err)
			}
			if c.Thread() != cpu%3 || lp.a.owner(c.local, c.remote) != cpu%3 {
				t.Fatalf("%s: dial from cpu %d landed on thread %d", part.Name(), cpu, c.Thread())
			}
			c.Close()
		}
		l.Close()
	}
}

func TestTCPImpairedLink(t *testing.T) {
	lp := newLivePair(t, 2, 2, Toeplitz{}, link.Impairments{
		Loss: 0.01, Duplicate: 0.01, Corrupt: 0.005, Reorder: 0.01, Delay: 200 * time.Microsecond,
	})
	l, err := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echoServer(t, l)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exchange(t, lp.a, netip.AddrPortFrom(lp.b.Addr(), 7), 1<<20, int64(100+i))
		}()
	}
	wg.Wait()
	st := lp.a.Stats().Total
	stb := lp.b.Stats().Total
	if st.TCP.Retransmits+stb.TCP.Retransmits == 0 {
		t.Error("no retransmissions on a lossy link")
	}
	if st.ChecksumErrors+stb.ChecksumErrors == 0 {
		t.Error("corruption not caught by checksums")
	}
}

func TestDeadlinesAndErrors(t *testing.T) {
	lp := newLivePair(t, 2, 2, Ports{}, link.Impairments{})
	l, err := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 80), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := lp.a.Dial(context.Background(), "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	// Read deadline in the past: immediate timeout.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past deadline: %v", err)
	}
	// A deadline moved while blocked is honoured.
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := <-done; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("blocked read: %v", err)
	}
	// Data after a timeout is still readable.
	c.SetReadDeadline(time.Time{})
	srv.Write([]byte("ok"))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok" {
		t.Fatalf("%q %v", buf, err)
	}
	// Close wakes a blocked reader with net.ErrClosed.
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	c.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	// The peer sees EOF.
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := srv.Read(buf); err != io.EOF {
		t.Fatalf("peer read: %v", err)
	}
	srv.Close()
	// Refused connection.
	if _, err := lp.a.Dial(context.Background(), "tcp", "10.0.0.2:81"); err == nil {
		t.Fatal("connect to closed port succeeded")
	}
}

func TestCloseWakesBlockedCalls(t *testing.T) {
	lp := newLivePair(t, 2, 2, Ports{}, link.Impairments{})
	l, _ := lp.b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7), 4)
	u, _ := lp.b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 7))
	c, err := lp.a.DialTCP(context.Background(), netip.AddrPortFrom(lp.b.Addr(), 7))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	go func() { _, err := l.Accept(); errs <- err }()
	go func() { _, err := sc.Read(make([]byte, 1)); errs <- err }()
	go func() { _, _, err := u.ReadFrom(make([]byte, 1)); errs <- err }()
	lp.b.Close()
	for i := 0; i < 3; i++ {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked call returned %v, want ErrClosed", err)
		}
	}
	c.Close()
}

func TestHTTPOverStacks(t *testing.T) {
	lp := newLivePair(t, 3, 3, Toeplitz{}, link.Impairments{})
	l, err := lp.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s", r.Host) })
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write(pattern(int64(n), n))
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		io.Copy(h, r.Body)
		fmt.Fprintf(w, "%x", h.Sum(nil))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: lp.a.Dial, MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
	resp, err := client.Get("http://10.0.0.2/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from 10.0.0.2" {
		t.Fatalf("%q", body)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 1 << (10 + i)
			resp, err := client.Get(fmt.Sprintf("http://10.0.0.2/bytes?n=%d", n))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(got, pattern(int64(n), n)) {
				t.Errorf("n=%d: %d bytes, %v", n, len(got), err)
			}
		}()
	}
	wg.Wait()
	up := pattern(9, 3<<20)
	resp, err = client.Post("http://10.0.0.2/upload", "application/octet-stream", bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%x", sha256.Sum256(up)); string(body) != want {
		t.Fatalf("upload digest %s, want %s", body, want)
	}
}
