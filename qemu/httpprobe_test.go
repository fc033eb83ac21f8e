package qemu

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFirstHTTP200(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 { // still booting
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	at, err := FirstHTTP200(ctx, c, srv.URL+"/", time.Millisecond, 4)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(start) {
		t.Fatalf("first 200 at %v, before the probing started (%v)", at, start)
	}
	if got := n.Load(); got < 4 {
		t.Fatalf("answered after %d requests; the first 3 were 503", got)
	}
}

func TestFirstHTTP200GivesUp(t *testing.T) {
	answered := make(chan struct{}, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		select {
		case answered <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	// A probe answered with anything but 200 is a failure, with the status.
	if err := probeOnce(context.Background(), c, srv.URL+"/"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("probeOnce = %v, want the 404", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // give up once a few probes have been answered (and failed)
		for range 3 {
			<-answered
		}
		cancel()
	}()
	_, err := FirstHTTP200(ctx, c, srv.URL+"/", time.Millisecond, 2)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the cancellation", err)
	}
	if _, err := FirstHTTP200(context.Background(), c, srv.URL, 0, 1); err == nil {
		t.Fatal("a zero interval was accepted")
	}
}
