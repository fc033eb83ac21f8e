package tcp

import "time"

// congestion is a congestion-control algorithm. The sender drives it:
// onAck for new data acknowledged outside recovery, onCongestion when fast
// recovery starts, onRecoveryExit when it ends, onRTO on a timeout. Window
// sizes are in bytes.
type congestion interface {
	cwnd() int
	ssthresh() int
	setMSS(smss int) // also sets the initial window the first time
	// setABCLimit sets L, the most segments one ACK may add to cwnd in
	// slow start (RFC 3465 §2.2; abcLimit).
	setABCLimit(l int)
	onAck(acked int, now time.Time, srtt time.Duration)
	onCongestion(now time.Time, flight int)
	onRecoveryExit()
	onRTO(flight int)
	undo() // restore the window from before the last onCongestion
}

// abcLimit is the slow-start L of RFC 3465 (Config.SlowStartL).
func (c *Conn) abcLimit() int { return c.s.cfg.SlowStartL }

// initialWindow is RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
func initialWindow(smss int) int { return min(10*smss, max(2*smss, 14600)) }

// newReno is RFC 5681 slow start and congestion avoidance with the
// NewReno recovery of RFC 6582 (the partial-ACK handling lives in the
// sender) and appropriate byte counting (RFC 3465, L = 2).
type newReno struct {
	win, thresh int
	smss        int
	acc         int // bytes acknowledged toward the next CA increase
	abcL        int // slow-start segments per ACK (0: 2)

	priorWin, priorThresh int
}

func (r *newReno) undo() {
	r.win = max(r.win, r.priorWin)
	r.thresh = max(r.thresh, r.priorThresh)
}

func (r *newReno) cwnd() int     { return r.win }
func (r *newReno) ssthresh() int { return r.thresh }

func (r *newReno) setMSS(smss int) {
	if r.smss == 0 {
		r.win = initialWindow(smss)
		r.thresh = 1 << 30 // RFC 5681 §3.1: arbitrarily high
	}
	r.smss = smss
	r.win = max(r.win, smss)
}

func (r *newReno) setABCLimit(l int) { r.abcL = l }

func (r *newReno) onAck(acked int, _ time.Time, _ time.Duration) {
	if r.win < r.thresh {
		r.win += min(acked, max(r.abcL, 2)*r.smss)
		return
	}
	r.acc += acked
	if r.acc >= r.win {
		r.acc -= r.win
		r.win += r.smss
	}
}

func (r *newReno) onCongestion(_ time.Time, flight int) {
	r.priorWin, r.priorThresh = r.win, r.thresh
	r.thresh = max(flight/2, 2*r.smss) // RFC 5681 eq. (4)
	r.win = r.thresh
	r.acc = 0
}

func (r *newReno) onRecoveryExit() { r.win = r.thresh }

func (r *newReno) onRTO(flight int) {
	r.thresh = max(flight/2, 2*r.smss)
	r.win = r.smss // loss window, RFC 5681 §3.1
	r.acc = 0
}
