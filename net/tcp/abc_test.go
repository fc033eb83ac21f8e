package tcp

import (
	"testing"
	"time"
)

// In slow start one ACK adds at most L segments (RFC 3465), L from
// Config.SlowStartL: a stretch ACK of a 45-segment TSO frame adds 2
// segments by default and the whole frame with L = 45.
func TestSlowStartL(t *testing.T) {
	const smss = 1448
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		cc   string
		l    int
		want int // cwnd after one ACK of 45 segments, from 10
	}{
		{"cubic", 2, 12}, {"cubic", 45, 55}, {"cubic", 100, 55},
		{"newreno", 2, 12}, {"newreno", 45, 55},
	} {
		var cc congestion = &newReno{}
		if tc.cc == "cubic" {
			cc = &cubic{}
		}
		cc.setMSS(smss)
		cc.setABCLimit(tc.l)
		if got := cc.cwnd() / smss; got != 10 {
			t.Fatalf("%s: initial window %d segments", tc.cc, got)
		}
		cc.onAck(45*smss, now, 10*time.Millisecond)
		if got := (cc.cwnd() + smss/2) / smss; got != tc.want {
			t.Errorf("%s L=%d: cwnd %d segments after a 45-segment ACK, want %d", tc.cc, tc.l, got, tc.want)
		}
	}
}
