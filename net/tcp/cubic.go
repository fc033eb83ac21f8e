package tcp

import (
	"math"
	"time"
)

// cubic is CUBIC, RFC 9438. Windows are tracked in segments as floats, as
// the RFC's formulas are; cwnd() converts to bytes.
//
//	W_cubic(t) = C*(t-K)^3 + W_max                    (§4.2, eq. 1)
//	K = cbrt((W_max - cwnd_epoch)/C)                  (eq. 2)
//	W_est += alpha_cubic * segments_acked / cwnd       (§4.3, eq. 4)
type cubic struct {
	smss      int
	w         float64 // cwnd in segments
	thresh    float64 // ssthresh in segments
	wMax      float64
	wLastMax  float64 // cwnd_prior, §4.3
	k         float64
	epoch     time.Time // start of the current congestion-avoidance epoch
	wEst      float64
	cwndEpoch float64
	abcL      int // slow-start segments per ACK (0: 2)

	prior cubicPrior // state before the last reduction, for undo
}

type cubicPrior struct {
	w, thresh, wMax, wLastMax float64
	valid                     bool
}

func (c *cubic) undo() {
	p := c.prior
	if !p.valid {
		return
	}
	c.w = max(c.w, p.w)
	c.thresh = max(c.thresh, p.thresh)
	c.wMax, c.wLastMax = p.wMax, p.wLastMax
	c.epoch = time.Time{}
	c.prior.valid = false
}

const (
	cubicC    = 0.4 // §5.1
	cubicBeta = 0.7 // §4.6
)

func (c *cubic) cwnd() int     { return int(c.w * float64(c.smss)) }
func (c *cubic) ssthresh() int { return int(c.thresh * float64(c.smss)) }

func (c *cubic) setABCLimit(l int) { c.abcL = l }

func (c *cubic) setMSS(smss int) {
	if c.smss == 0 {
		c.w = float64(initialWindow(smss)) / float64(smss)
		c.thresh = math.Inf(1)
	} else {
		c.w = c.w * float64(c.smss) / float64(smss)
	}
	c.smss = smss
}

func (c *cubic) onAck(acked int, now time.Time, srtt time.Duration) {
	segs := float64(acked) / float64(c.smss)
	if c.w < c.thresh {
		c.w += min(segs, float64(max(c.abcL, 2))) // slow start, RFC 3465 L (Config.SlowStartL)
		return
	}
	if c.epoch.IsZero() {
		c.epoch = now
		c.cwndEpoch = c.w
		c.wEst = c.w
		if c.w < c.wMax {
			c.k = math.Cbrt((c.wMax - c.w) / cubicC)
		} else {
			c.k = 0
			c.wMax = c.w
		}
	}
	t := now.Sub(c.epoch).Seconds()
	rtt := srtt.Seconds()
	// Reno-friendly estimate, §4.3.
	alpha := 3 * (1 - cubicBeta) / (1 + cubicBeta)
	if c.wEst >= c.wLastMax {
		alpha = 1
	}
	c.wEst += alpha * segs / c.w
	wCubic := func(t float64) float64 { d := t - c.k; return cubicC*d*d*d + c.wMax }
	if wCubic(t) < c.wEst {
		c.w = c.wEst
		return
	}
	// Concave/convex regions, §4.4-4.5: aim at W_cubic one RTT ahead,
	// bounded to 1.5*cwnd.
	target := min(max(wCubic(t+rtt), c.w), 1.5*c.w)
	c.w += (target - c.w) / c.w * segs
}

func (c *cubic) reduce() {
	c.wLastMax = c.w // cwnd_prior
	// Fast convergence, §4.7.
	if c.w < c.wMax {
		c.wMax = c.w * (1 + cubicBeta) / 2
	} else {
		c.wMax = c.w
	}
	c.thresh = max(c.w*cubicBeta, 2)
	c.epoch = time.Time{}
}

func (c *cubic) onCongestion(_ time.Time, _ int) {
	c.prior = cubicPrior{c.w, c.thresh, c.wMax, c.wLastMax, true}
	c.reduce()
	c.w = c.thresh
}

func (c *cubic) onRecoveryExit() { c.w = c.thresh }

func (c *cubic) onRTO(_ int) {
	c.reduce()
	c.w = 1 // §4.8
}
