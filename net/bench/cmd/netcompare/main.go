// Command netcompare runs the net/bench workloads on Damselfly's stack and
// on gVisor's netstack and prints the medians side by side with the ratio.
//
//	cd net/bench && go run ./cmd/netcompare -count 5 -benchtime 1s
//
// Each round runs every workload once on every stack, interleaved, so a
// burst of load on a shared machine hits all columns alike; the table
// shows the median of the rounds.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
	"text/tabwriter"
	"time"

	"damselfly/net/bench"
)

// metric is one line of the table: a figure a workload reports and
// whether more of it is better.
type metric struct {
	workload, name string
	higher         bool
}

var metrics = []metric{
	{"Bulk", "Gbit/s", true},
	{"Bulk", "Gbit/s/core", true},
	{"Connect", "conns/s", true},
	{"Connect", "cpu-ns/op", false},
	{"RR", "ns/op", false},
	{"RR", "p50-ns", false},
	{"RR", "p99-ns", false},
	{"RR", "cpu-ns/op", false},
}

func value(r testing.BenchmarkResult, name string) float64 {
	if name == "ns/op" {
		return float64(r.T.Nanoseconds()) / float64(r.N)
	}
	return r.Extra[name]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	testing.Init()
	count := flag.Int("count", 5, "rounds; the table shows medians")
	benchtime := flag.String("benchtime", "1s", "time (or Nx iterations) per benchmark run")
	run := flag.String("run", ".", "regexp selecting workloads (Bulk, Connect, RR)")
	flag.Parse()
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		fmt.Fprintln(os.Stderr, "netcompare:", err)
		os.Exit(2)
	}
	sel, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcompare: -run:", err)
		os.Exit(2)
	}

	// samples[workload/metric][stack] holds one value per round.
	samples := map[string]map[string][]float64{}
	failed := false
	for round := 1; round <= *count; round++ {
		for _, w := range bench.Workloads {
			if !sel.MatchString(w.Name) {
				continue
			}
			for _, s := range bench.Stacks {
				r := testing.Benchmark(func(b *testing.B) { bench.Run(b, s, w.Run) })
				if r.N == 0 {
					fmt.Fprintf(os.Stderr, "netcompare: %s/%s failed in round %d\n", w.Name, s.Name, round)
					failed = true
					continue
				}
				fmt.Fprintf(os.Stderr, "round %d %s/%s: %s\n", round, w.Name, s.Name, r)
				for _, m := range metrics {
					if m.workload != w.Name {
						continue
					}
					key := m.workload + " " + m.name
					if samples[key] == nil {
						samples[key] = map[string][]float64{}
					}
					samples[key][s.Name] = append(samples[key][s.Name], value(r, m.name))
				}
			}
		}
	}

	gv := bench.Stacks[len(bench.Stacks)-1].Name
	ours := bench.Stacks[:len(bench.Stacks)-1]
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "metric\t")
	for _, s := range bench.Stacks {
		fmt.Fprintf(tw, "%s\t", s.Name)
	}
	for _, s := range ours {
		fmt.Fprintf(tw, "%s vs %s\t", s.Name, gv)
	}
	fmt.Fprintln(tw)
	for _, m := range metrics {
		key := m.workload + " " + m.name
		if samples[key] == nil {
			continue
		}
		dir := "lower is better"
		if m.higher {
			dir = "higher is better"
		}
		fmt.Fprintf(tw, "%s (%s)\t", key, dir)
		for _, s := range bench.Stacks {
			fmt.Fprintf(tw, "%s\t", format(median(samples[key][s.Name])))
		}
		g := median(samples[key][gv])
		for _, s := range ours {
			d := median(samples[key][s.Name])
			ratio := d / g
			if !m.higher {
				ratio = g / d
			}
			fmt.Fprintf(tw, "%.2fx\t", ratio)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Printf("\nmedians of %d rounds, -benchtime %s, %s; ratio > 1: Damselfly ahead\n", *count, *benchtime, time.Now().UTC().Format(time.RFC3339))
	if failed {
		os.Exit(1)
	}
}

func format(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
