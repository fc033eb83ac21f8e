package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"time"

	"damselfly/qemu"
	"damselfly/qemu/bench"
)

// target is where a booted guest's services are reached from the host.
type target struct {
	base string // HTTP base URL, e.g. http://10.0.3.2
	echo string // host:port of the echo service
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// command runs a load generator where it can reach the guest.
	command func(ctx context.Context, args ...string) *exec.Cmd
}

// client is an HTTP client that opens a new connection for every request.
func (t target) client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: t.dial, DisableKeepAlives: true},
	}
}

// Boot probing: a new GET / every probeEvery, each allowed probeTimeout,
// at most probeMax in flight. The resolution of the boot time is
// probeEvery; a probe whose SYN went out before the guest's stack was up
// is simply overtaken by a later one.
const (
	probeEvery   = 20 * time.Millisecond
	probeTimeout = 500 * time.Millisecond
	probeMax     = 32
)

// waitHTTP returns the time from start until a GET / first answered 200.
func waitHTTP(ctx context.Context, t target, start time.Time, limit time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	at, err := qemu.FirstHTTP200(ctx, t.client(probeTimeout), t.base+"/", probeEvery, probeMax)
	if err != nil {
		return 0, err
	}
	return at.Sub(start), nil
}

// memory is what /status.json's kernel.memory holds on either guest.
type memory struct {
	// Damselfly and httpd-linux: the Go runtime's own figures.
	Sys       uint64 `json:"sys"`
	HeapAlloc uint64 `json:"heap_alloc"`
	// httpd-linux only: MemTotal - MemAvailable, and MemAvailable, from
	// /proc/meminfo.
	GuestInUse     *uint64 `json:"guest_in_use"`
	GuestAvailable *uint64 `json:"guest_available"`
}

func fetchMemory(ctx context.Context, t target) (memory, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", t.base+"/status.json", nil)
	resp, err := t.client(10 * time.Second).Do(req)
	if err != nil {
		return memory{}, fmt.Errorf("status.json: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return memory{}, fmt.Errorf("status.json: %s", resp.Status)
	}
	var doc struct {
		Kernel struct {
			Memory *memory `json:"memory"`
		} `json:"kernel"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return memory{}, fmt.Errorf("status.json: %w", err)
	}
	if doc.Kernel.Memory == nil {
		return memory{}, errors.New("status.json: no kernel.memory")
	}
	return *doc.Kernel.Memory, nil
}

// output runs a load generator and returns what it printed.
func output(ctx context.Context, t target, args ...string) (string, error) {
	cmd := t.command(ctx, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", args[0], err, bytes.TrimSpace(out.Bytes()))
	}
	return out.String(), nil
}

// wrkArgs are the keep-alive load: 2 threads, 8 connections, the site's index.
func wrkArgs(t target, d time.Duration) []string {
	return []string{"wrk", "-t", "2", "-c", "8", "-d", fmt.Sprintf("%ds", int(d.Seconds())), "--latency", t.base + "/"}
}

// abArgs are the new-connection load: n requests, 4 at a time, no keep-alive.
func abArgs(t target, n int) []string {
	return []string{"ab", "-q", "-n", fmt.Sprint(n), "-c", "4", t.base + "/"}
}

func runWrk(ctx context.Context, t target, d time.Duration) (bench.Wrk, error) {
	out, err := output(ctx, t, wrkArgs(t, d)...)
	if err != nil {
		return bench.Wrk{}, err
	}
	return bench.ParseWrk(out)
}

func runAb(ctx context.Context, t target, n int) (bench.Ab, error) {
	out, err := output(ctx, t, abArgs(t, n)...)
	if err != nil {
		return bench.Ab{}, err
	}
	return bench.ParseAb(out)
}

// echoMBps sends n bytes through the echo service while reading them back,
// checks every byte, and returns MB/s (10^6 bytes) over the whole exchange.
func echoMBps(ctx context.Context, t target, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := t.dial(ctx, "tcp", t.echo)
	if err != nil {
		return 0, fmt.Errorf("echo: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	pattern := make([]byte, 64<<10)
	for i := range pattern {
		pattern[i] = byte(i*7 + i>>8)
	}
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		left := n
		for left > 0 {
			k := min(left, len(pattern))
			if _, err := c.Write(pattern[:k]); err != nil {
				werr <- err
				return
			}
			left -= k
		}
		werr <- nil
	}()
	buf := make([]byte, 64<<10)
	for got := 0; got < n; {
		k, err := c.Read(buf[:min(len(buf), n-got)])
		for i := 0; i < k; i++ {
			if buf[i] != pattern[(got+i)%len(pattern)] {
				return 0, fmt.Errorf("echo: byte %d differs", got+i)
			}
		}
		got += k
		if err != nil {
			return 0, fmt.Errorf("echo: after %d of %d bytes: %w", got, n, err)
		}
	}
	elapsed := time.Since(start)
	if err := <-werr; err != nil {
		return 0, fmt.Errorf("echo: write: %w", err)
	}
	return float64(n) / 1e6 / elapsed.Seconds(), nil
}
