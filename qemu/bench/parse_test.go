package bench

import (
	"testing"
	"time"
)

// Recorded from wrk 4.1.0 and ab 2.3 (Debian 12) against httpd-linux.
const wrkOut = `Running 1s test @ http://127.0.0.1:18080/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.21ms    3.97ms  41.66ms   90.23%
    Req/Sec     4.26k     1.00k    6.01k    70.00%
  Latency Distribution
     50%  728.00us
     75%    2.32ms
     90%    6.05ms
     99%   21.17ms
  8490 requests in 1.01s, 1.88MB read
Requests/sec:   8425.31
Transfer/sec:      1.86MB
`

const wrkErrOut = `Running 4s test @ http://10.0.3.2/
  2 threads and 8 connections
  Latency Distribution
     50%    1.50s
     75%    2.32s
     90%    2.50s
     99%    1.00m
  12 requests in 4.00s, 1.88KB read
  Socket errors: connect 0, read 3, write 0, timeout 5
  Non-2xx or 3xx responses: 2
Requests/sec:      3.00
Transfer/sec:      0.47KB
`

const abOut = `This is ApacheBench, Version 2.3 <$Revision$>

Benchmarking 127.0.0.1 (be patient).....done

Server Software:        linux
Document Length:        6 bytes

Concurrency Level:      4
Time taken for tests:   0.150 seconds
Complete requests:      200
Failed requests:        0
Total transferred:      46400 bytes
Requests per second:    1337.72 [#/sec] (mean)
Time per request:       2.990 [ms] (mean)
`

func TestParseWrk(t *testing.T) {
	w, err := ParseWrk(wrkOut)
	if err != nil {
		t.Fatal(err)
	}
	if w.RequestsPerSec != 8425.31 || w.Requests != 8490 || len(w.Errors) != 0 {
		t.Errorf("got %+v", w)
	}
	if w.P50 != 728*time.Microsecond || w.P99 != 21170*time.Microsecond {
		t.Errorf("p50 %v p99 %v, want 728us 21.17ms", w.P50, w.P99)
	}

	w, err = ParseWrk(wrkErrOut)
	if err != nil {
		t.Fatal(err)
	}
	if w.RequestsPerSec != 3 || w.P50 != 1500*time.Millisecond || w.P99 != time.Minute {
		t.Errorf("got %+v", w)
	}
	if len(w.Errors) != 2 || w.Errors[0] != "Socket errors: connect 0, read 3, write 0, timeout 5" ||
		w.Errors[1] != "Non-2xx or 3xx responses: 2" {
		t.Errorf("errors %q", w.Errors)
	}

	for name, bad := range map[string]string{
		"empty":      "",
		"no rate":    "Latency Distribution\n 50% 1ms\n 99% 2ms\n",
		"no latency": "Requests/sec: 10.0\n",
		"no 99":      "Latency Distribution\n 50% 1ms\nRequests/sec: 10\n",
		"bad unit":   "Latency Distribution\n 50% 1ms\n 99% 2xs\nRequests/sec: 10\n",
		"bad rate":   "Latency Distribution\n 50% 1ms\n 99% 2ms\nRequests/sec: 1.2.3\n",
	} {
		if w, err := ParseWrk(bad); err == nil {
			t.Errorf("%s: accepted as %+v", name, w)
		}
	}
}

func TestParseAb(t *testing.T) {
	a, err := ParseAb(abOut)
	if err != nil {
		t.Fatal(err)
	}
	if a != (Ab{RequestsPerSec: 1337.72, Complete: 200}) {
		t.Errorf("got %+v", a)
	}
	a, err = ParseAb("Complete requests: 10\nFailed requests: 3\n   (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)\nNon-2xx responses: 4\nRequests per second: 5 [#/sec] (mean)\n")
	if err != nil {
		t.Fatal(err)
	}
	if a != (Ab{RequestsPerSec: 5, Complete: 10, Failed: 3, Non2xx: 4}) {
		t.Errorf("got %+v", a)
	}
	for _, bad := range []string{"", "apr_socket_recv: Connection reset by peer (104)\n", "Requests per second: x\n"} {
		if a, err := ParseAb(bad); err == nil {
			t.Errorf("%q: accepted as %+v", bad, a)
		}
	}
}

func FuzzParseWrk(f *testing.F) {
	f.Add(wrkOut)
	f.Add(wrkErrOut)
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWrk(s)
		if err == nil && (w.P50 <= 0 || w.P99 <= 0 || w.RequestsPerSec < 0) {
			t.Fatalf("accepted %+v", w)
		}
	})
}

func FuzzParseAb(f *testing.F) {
	f.Add(abOut)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAb(s)
		if err == nil && a.RequestsPerSec < 0 {
			t.Fatalf("accepted %+v", a)
		}
	})
}
