package tcp

import (
	"math"
	"testing"
	"time"
)

// driveCC acknowledges a full window every rtt for d and returns cwnd in
// segments.
func driveCC(cc congestion, smss int, start time.Time, rtt, d time.Duration) float64 {
	for t := time.Duration(0); t < d; t += rtt {
		w := cc.cwnd()
		for acked := 0; acked < w; acked += smss {
			cc.onAck(smss, start.Add(t), rtt)
		}
	}
	return float64(cc.cwnd()) / float64(smss)
}

func TestCubicReturnsToWmaxAtK(t *testing.T) {
	const smss = 1000
	c := &cubic{}
	c.setMSS(smss)
	if c.cwnd() != initialWindow(smss) {
		t.Fatalf("initial window %d", c.cwnd())
	}
	c.w, c.thresh = 100, 100
	now := time.Unix(0, 0)
	c.onCongestion(now, 0)
	if c.w != 70 || c.thresh != 70 || c.wMax != 100 {
		t.Fatalf("after loss w=%v thresh=%v wmax=%v", c.w, c.thresh, c.wMax)
	}
	k := math.Cbrt(100 * (1 - cubicBeta) / cubicC) // RFC 9438 eq. 2
	// With a long RTT the cubic curve, not the Reno estimate, governs:
	// at t = K the window is back at W_max, and it stays in the concave
	// plateau (below W_max + a few) until then.
	rtt := 200 * time.Millisecond
	w := driveCC(c, smss, now, rtt, time.Duration(k*float64(time.Second)))
	if w < 90 || w > 105 {
		t.Fatalf("cwnd at K (%.2fs) = %.1f segments, want about 100", k, w)
	}
	// Beyond K, the convex region: W_cubic(K+3s) = C*27 + W_max.
	w2 := driveCC(c, smss, now.Add(time.Duration(k*float64(time.Second))), rtt, 3*time.Second)
	if want := cubicC*27 + 100; math.Abs(w2-want) > 3 {
		t.Fatalf("convex region: cwnd %.1f, want about %.1f", w2, want)
	}
}

func TestCubicFastConvergenceAndRTO(t *testing.T) {
	c := &cubic{}
	c.setMSS(1000)
	c.w, c.thresh, c.wMax = 80, 80, 100
	c.onCongestion(time.Unix(0, 0), 0)
	// cwnd (80) below the previous W_max: W_max = 80*(1+beta)/2 (§4.7).
	if math.Abs(c.wMax-80*(1+cubicBeta)/2) > 1e-9 || c.w != 56 {
		t.Fatalf("wmax %v w %v", c.wMax, c.w)
	}
	c.onRTO(0)
	if c.w != 1 || c.cwnd() != 1000 {
		t.Fatalf("after RTO w=%v", c.w)
	}
}

func TestNewRenoAIMD(t *testing.T) {
	const smss = 1000
	r := &newReno{}
	r.setMSS(smss)
	if r.cwnd() != 10*smss {
		t.Fatal(r.cwnd())
	}
	// Slow start doubles per round.
	w := driveCC(r, smss, time.Unix(0, 0), 10*time.Millisecond, 10*time.Millisecond)
	if w != 20 {
		t.Fatalf("slow start: %v", w)
	}
	r.onCongestion(time.Unix(0, 0), 20*smss)
	if r.cwnd() != 10*smss || r.ssthresh() != 10*smss {
		t.Fatalf("halving: %d %d", r.cwnd(), r.ssthresh())
	}
	// Congestion avoidance: one segment per round trip.
	w = driveCC(r, smss, time.Unix(0, 0), 10*time.Millisecond, 50*time.Millisecond)
	if w != 15 {
		t.Fatalf("congestion avoidance: %v", w)
	}
	r.undo()
	if r.cwnd() != 20*smss {
		t.Fatalf("undo: %d", r.cwnd())
	}
}
