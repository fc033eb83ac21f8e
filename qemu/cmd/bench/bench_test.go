package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"damselfly/apps/httpd"
	"damselfly/kernel"
)

func localTarget(base, echo string) target {
	var d net.Dialer
	return target{base: base, echo: echo, dial: d.DialContext,
		command: func(ctx context.Context, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, args[0], args[1:]...)
		}}
}

// TestWaitHTTP: the server fails its first requests, then answers 200; the
// wait ends with that answer.
func TestWaitHTTP(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	start := time.Now()
	d, err := waitHTTP(context.Background(), localTarget(srv.URL, ""), start, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() < 4 || d <= 0 {
		t.Errorf("answered after %d requests, %v", n.Load(), d)
	}
}

func TestWaitHTTPGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "never", http.StatusNotFound)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := waitHTTP(ctx, localTarget(srv.URL, ""), time.Now(), time.Minute); err == nil {
		t.Fatal("no error from a cancelled wait")
	}
}

func TestFetchMemory(t *testing.T) {
	for _, tc := range []struct {
		body    string
		sys     uint64
		inUse   int64 // -1: absent
		wantErr bool
	}{
		{`{"kernel":{"memory":{"sys":5000,"heap_alloc":100}}}`, 5000, -1, false},
		{`{"kernel":{"memory":{"sys":7,"guest_in_use":9,"guest_available":3}}}`, 7, 9, false},
		{`{"kernel":{}}`, 0, -1, true},
		{`not json`, 0, -1, true},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/status.json" {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(tc.body))
		}))
		m, err := fetchMemory(context.Background(), localTarget(srv.URL, ""))
		srv.Close()
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v", tc.body, err)
			continue
		}
		if err != nil {
			continue
		}
		if m.Sys != tc.sys || (tc.inUse < 0) != (m.GuestInUse == nil) || (m.GuestInUse != nil && int64(*m.GuestInUse) != tc.inUse) {
			t.Errorf("%s: got %+v", tc.body, m)
		}
	}
}

// TestEcho runs the measurement against the appliance's own echo service.
func TestEcho(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go httpd.ServeEcho(l, nil)
	defer l.Close()
	mbps, err := echoMBps(context.Background(), localTarget("", l.Addr().String()), 3<<20+123)
	if err != nil {
		t.Fatal(err)
	}
	if mbps <= 0 {
		t.Errorf("%v MB/s", mbps)
	}
}

// TestEchoDetectsCorruption: a server that flips a byte is caught.
func TestEchoDetectsCorruption(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1000)
		for first := true; ; first = false {
			n, err := c.Read(buf)
			if first && n > 0 {
				buf[n/2] ^= 1
			}
			if _, werr := c.Write(buf[:n]); err != nil || werr != nil {
				return
			}
		}
	}()
	if _, err := echoMBps(context.Background(), localTarget("", l.Addr().String()), 1<<20); err == nil {
		t.Fatal("corrupted echo accepted")
	}
}

func TestLoadSpan(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	span, err := loadSpan(exe)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(exe)
	// A Go test binary's segments cover its text and data: at least a
	// good part of the file, far less than a gigabyte.
	if span < uint64(st.Size())/4 || span > 1<<30 {
		t.Errorf("span %d for a %d-byte file", span, st.Size())
	}
	if _, err := loadSpan("bench_test.go"); err == nil {
		t.Error("a Go source file has a load span")
	}
	var pe *os.PathError
	if _, err := loadSpan("no-such-file"); !errors.As(err, &pe) {
		t.Errorf("missing file: %v", err)
	}
}

func TestHostTSC(t *testing.T) {
	// Any x86 host of this century runs its TSC between 100 MHz and 10 GHz.
	if k := hostTSCkHz(); k != 0 && (k < 100_000 || k > 10_000_000) {
		t.Errorf("TSC at %d kHz", k)
	}
}

// The Linux guest runs httpd-linux with the garbage collector setting of
// Damselfly's kernel: the comparison is of the same program set up alike.
func TestLinuxGuestGOGC(t *testing.T) {
	b, err := os.ReadFile("../../linuxguest/bench-init.sh")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("GOGC=%d /bin/httpd-linux ", kernel.DefaultGOGC)
	if !strings.Contains(string(b), want) {
		t.Fatalf("bench-init.sh does not start httpd-linux with %q", want)
	}
}
