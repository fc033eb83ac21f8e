package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// The two guests, by the names the report uses.
const (
	Damselfly = "damselfly"
	Linux     = "linux"
)

// Metric is one compared figure.
type Metric struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Lower is true when a lower value is better (times, sizes).
	Lower bool `json:"lower_is_better"`
	// Target bounds the ratio Damselfly/Linux (issue #9): at most Target
	// when Lower, at least Target otherwise; 0 means no target. Aim is the
	// stretch goal, same sense.
	Target float64 `json:"target,omitempty"`
	Aim    float64 `json:"aim,omitempty"`
}

// Metrics are the figures make bench measures, in report order.
var Metrics = []Metric{
	{ID: "boot_ms", Name: "QEMU start to first HTTP 200", Unit: "ms", Lower: true, Target: 0.1},
	{ID: "up_ms", Name: "QEMU start to \"appliance up\" line", Unit: "ms", Lower: true},
	{ID: "wrk_rps", Name: "HTTP keep-alive (wrk)", Unit: "req/s", Target: 1, Aim: 1.5},
	{ID: "wrk_p50_ms", Name: "wrk latency p50", Unit: "ms", Lower: true},
	{ID: "wrk_p99_ms", Name: "wrk latency p99", Unit: "ms", Lower: true},
	{ID: "ab_rps", Name: "new connection per request (ab)", Unit: "req/s", Target: 1},
	{ID: "echo_mbps", Name: "echo through port 7", Unit: "MB/s", Target: 1, Aim: 1.5},
	{ID: "mem_mib", Name: "guest memory in use after boot", Unit: "MiB", Lower: true, Target: 0.2},
	{ID: "footprint_mib", Name: "guest memory taken, image included", Unit: "MiB", Lower: true},
	{ID: "image_mb", Name: "image size", Unit: "MB", Lower: true, Target: 0.2},
}

// MetricByID returns the metric with that id.
func MetricByID(id string) (Metric, bool) {
	for _, m := range Metrics {
		if m.ID == id {
			return m, true
		}
	}
	return Metric{}, false
}

// Run is one boot of one guest and what was measured on it. A metric
// missing from Values failed; Errors says why.
type Run struct {
	Guest  string             `json:"guest"`
	Round  int                `json:"round"` // 1-based; each round boots Damselfly, then Linux
	Values map[string]float64 `json:"values"`
	Errors []string           `json:"errors,omitempty"`
}

// Set records a measured value; NaN and infinities are refused as an error
// on the run, so the JSON stays valid.
func (r *Run) Set(id string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r.Errorf("%s: not a number", id)
		return
	}
	if r.Values == nil {
		r.Values = make(map[string]float64)
	}
	r.Values[id] = v
}

// Errorf records why a measurement failed.
func (r *Run) Errorf(format string, a ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, a...))
}

// Setup describes how the figures were taken.
type Setup struct {
	Mode    string    `json:"mode"` // "full" or "smoke"
	Runs    int       `json:"runs"` // boots of each guest
	SMP     int       `json:"smp"`
	Memory  string    `json:"memory"`
	Net     string    `json:"net"`   // "tap" or "user"
	Accel   string    `json:"accel"` // "tcg" or "kvm"
	Command string    `json:"command"`
	Date    time.Time `json:"date"`
	// Warning is set when the figures are not comparable (user networking).
	Warning string `json:"warning,omitempty"`
	// Notes describe each guest and the load (kernel version, tool flags).
	Notes []string `json:"notes,omitempty"`
}

// Results are everything one make bench produced.
type Results struct {
	Setup Setup `json:"setup"`
	Runs  []Run `json:"runs"`
}

// Row is one line of the summary.
type Row struct {
	Metric
	Damselfly float64 // median over Damselfly's runs; NaN if none succeeded
	Linux     float64
	Ratio     float64 // Damselfly / Linux
}

// Verdict compares the ratio with the target: "met", "missed", "" when
// the metric has none, "n/a" when a side is missing.
func (r Row) Verdict() string {
	switch {
	case r.Target == 0:
		return ""
	case math.IsNaN(r.Ratio):
		return "n/a"
	case r.Lower && r.Ratio <= r.Target, !r.Lower && r.Ratio >= r.Target:
		return "met"
	}
	return "missed"
}

// TargetText is the target as the table shows it ("<= 0.10").
func (r Row) TargetText() string {
	if r.Target == 0 {
		return ""
	}
	op := ">="
	if r.Lower {
		op = "<="
	}
	s := fmt.Sprintf("%s %.2f", op, r.Target)
	if r.Aim != 0 {
		s += fmt.Sprintf(" (aim %.1f)", r.Aim)
	}
	return s
}

// Summary is the medians of every metric for both guests.
func (res *Results) Summary() []Row {
	rows := make([]Row, 0, len(Metrics))
	for _, m := range Metrics {
		var d, l []float64
		for _, r := range res.Runs {
			v, ok := r.Values[m.ID]
			if !ok {
				v = math.NaN()
			}
			switch r.Guest {
			case Damselfly:
				d = append(d, v)
			case Linux:
				l = append(l, v)
			}
		}
		row := Row{Metric: m, Damselfly: Median(d), Linux: Median(l)}
		row.Ratio = Ratio(row.Damselfly, row.Linux)
		rows = append(rows, row)
	}
	return rows
}

// Missing lists "guest round metric" for every figure a run lacks, so a
// smoke run can check that each measurement worked.
func (res *Results) Missing() []string {
	var out []string
	for _, r := range res.Runs {
		for _, m := range Metrics {
			if _, ok := r.Values[m.ID]; !ok {
				out = append(out, fmt.Sprintf("%s run %d: %s", r.Guest, r.Round, m.ID))
			}
		}
	}
	return out
}

// jsonRow is Row as results.json carries it: missing values are null.
type jsonRow struct {
	Metric
	Damselfly *float64 `json:"damselfly"`
	Linux     *float64 `json:"linux"`
	Ratio     *float64 `json:"ratio_damselfly_linux"`
	Verdict   string   `json:"verdict,omitempty"`
}

func num(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// JSON is results.json: the setup, every run and the summary.
func (res *Results) JSON() ([]byte, error) {
	var rows []jsonRow
	for _, r := range res.Summary() {
		rows = append(rows, jsonRow{Metric: r.Metric, Damselfly: num(r.Damselfly), Linux: num(r.Linux),
			Ratio: num(r.Ratio), Verdict: r.Verdict()})
	}
	b, err := json.MarshalIndent(struct {
		Setup   Setup     `json:"setup"`
		Summary []jsonRow `json:"summary"`
		Runs    []Run     `json:"runs"`
	}{res.Setup, rows, res.Runs}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bench: results.json: %w", err)
	}
	return append(b, '\n'), nil
}

// FormatValue prints a figure with three or so significant digits; "-" for
// a missing one.
func FormatValue(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return "-"
	case a >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}
