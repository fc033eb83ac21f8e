package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// FirstHTTP200 measures when a booting guest first answers: it starts a GET
// of url every interval (a new request each time, at most inFlight at once,
// each bounded by c's timeout) and returns the moment the first 200 was
// read. A probe sent before the guest's stack is up is simply overtaken by
// a later one, so the result's resolution is interval. It gives up when ctx
// ends, reporting the last failure seen. Used by the boot-time test
// (ci/boottime_test.go) and the benchmark harness (qemu/cmd/bench).
func FirstHTTP200(ctx context.Context, c *http.Client, url string, interval time.Duration, inFlight int) (time.Time, error) {
	if interval <= 0 || inFlight <= 0 {
		return time.Time{}, fmt.Errorf("qemu: probing %s: interval %v and in-flight %d must be positive", url, interval, inFlight)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the probes still in flight
	done := make(chan time.Time, 1)
	errc := make(chan error, inFlight)
	slots := make(chan struct{}, inFlight)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := errors.New("no probe finished")
	for {
		select {
		case at := <-done:
			return at, nil
		case err := <-errc:
			last = err
			continue
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("qemu: no HTTP 200 from %s: %w (last: %v)", url, ctx.Err(), last)
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue // inFlight probes still waiting: skip this tick
		}
		go func() {
			defer func() { <-slots }()
			err := probeOnce(ctx, c, url)
			if err == nil {
				select {
				case done <- time.Now():
				default:
				}
				return
			}
			select {
			case errc <- err:
			default:
			}
		}()
	}
}

// probeOnce GETs url and reports nil if it was answered 200.
func probeOnce(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s", url, resp.Status)
	}
	return nil
}
