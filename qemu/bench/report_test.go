package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sample has two rounds; Linux's second echo failed.
func sample() *Results {
	res := &Results{Setup: Setup{Mode: "full", Runs: 2, SMP: 2, Memory: "512M", Net: "tap", Accel: "tcg",
		Command: "make bench", Date: time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC), Notes: []string{"a <note>"}}}
	add := func(guest string, round int, v map[string]float64, errs ...string) {
		r := Run{Guest: guest, Round: round}
		for id, x := range v {
			r.Set(id, x)
		}
		for _, e := range errs {
			r.Errorf("%s", e)
		}
		res.Runs = append(res.Runs, r)
	}
	all := func(boot, rps, echo, mem float64) map[string]float64 {
		return map[string]float64{"boot_ms": boot, "up_ms": boot - 50, "wrk_rps": rps, "wrk_p50_ms": 1, "wrk_p99_ms": 9,
			"ab_rps": rps / 2, "echo_mbps": echo, "mem_mib": mem, "footprint_mib": mem + 20, "image_mb": 11}
	}
	add(Damselfly, 1, all(300, 2000, 40, 10))
	add(Linux, 1, all(2400, 1000, 50, 60))
	add(Damselfly, 2, all(200, 3000, 20, 12))
	l := all(2600, 1400, 0, 40)
	delete(l, "echo_mbps")
	add(Linux, 2, l, "echo: connection reset")
	return res
}

func row(t *testing.T, rows []Row, id string) Row {
	t.Helper()
	for _, r := range rows {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no row %s", id)
	return Row{}
}

func TestSummary(t *testing.T) {
	rows := sample().Summary()
	if len(rows) != len(Metrics) {
		t.Fatalf("%d rows, want %d", len(rows), len(Metrics))
	}
	boot := row(t, rows, "boot_ms")
	if boot.Damselfly != 250 || boot.Linux != 2500 || boot.Ratio != 0.1 || boot.Verdict() != "met" {
		t.Errorf("boot row %+v verdict %q", boot, boot.Verdict())
	}
	echo := row(t, rows, "echo_mbps")
	if echo.Damselfly != 30 || echo.Linux != 50 || echo.Ratio != 0.6 || echo.Verdict() != "missed" {
		t.Errorf("echo row %+v verdict %q", echo, echo.Verdict())
	}
	if p := row(t, rows, "wrk_p50_ms"); p.Verdict() != "" || p.TargetText() != "" {
		t.Errorf("p50 has a target: %q %q", p.Verdict(), p.TargetText())
	}
	if w := row(t, rows, "wrk_rps"); w.TargetText() != ">= 1.00 (aim 1.5)" || w.Verdict() != "met" {
		t.Errorf("wrk row %q %q", w.TargetText(), w.Verdict())
	}
	if m := row(t, rows, "mem_mib"); m.TargetText() != "<= 0.20" || m.Verdict() != "missed" /* 11/50 */ {
		t.Errorf("mem row %+v %q %q", m, m.TargetText(), m.Verdict())
	}
	miss := sample().Missing()
	if len(miss) != 1 || miss[0] != "linux run 2: echo_mbps" {
		t.Errorf("Missing = %q", miss)
	}
	empty := (&Results{}).Summary()
	if r := row(t, empty, "boot_ms"); !math.IsNaN(r.Ratio) || r.Verdict() != "n/a" {
		t.Errorf("empty results: %+v %q", r, r.Verdict())
	}
}

func TestRunSetRefusesNaN(t *testing.T) {
	var r Run
	r.Set("boot_ms", math.NaN())
	r.Set("ab_rps", math.Inf(1))
	if len(r.Values) != 0 || len(r.Errors) != 2 {
		t.Errorf("run %+v", r)
	}
}

func TestJSON(t *testing.T) {
	res := sample()
	res.Runs = res.Runs[:1] // Linux missing entirely: null medians
	b, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Setup   Setup
		Summary []struct {
			ID        string
			Damselfly *float64
			Linux     *float64
			Ratio     *float64 `json:"ratio_damselfly_linux"`
			Verdict   string
		}
		Runs []Run
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if doc.Setup.Command != "make bench" || len(doc.Runs) != 1 || len(doc.Summary) != len(Metrics) {
		t.Errorf("doc %+v", doc)
	}
	s := doc.Summary[0]
	if s.ID != "boot_ms" || s.Damselfly == nil || *s.Damselfly != 300 || s.Linux != nil || s.Ratio != nil || s.Verdict != "n/a" {
		t.Errorf("summary[0] %+v", s)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := sample().Table(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(Metrics)+1 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || !strings.Contains(lines[1], "QEMU start to first HTTP 200 (ms)") ||
		!strings.Contains(lines[1], " 250 ") || !strings.Contains(lines[1], " 2500 ") || !strings.Contains(lines[1], "0.10") || !strings.HasSuffix(strings.TrimSpace(lines[1]), "met") {
		t.Errorf("boot line %q", lines[1])
	}
}

// svgDoc is the part of the chart the test reads back.
type svgDoc struct {
	Rects []struct {
		Width string `xml:"width,attr"`
		Fill  string `xml:"fill,attr"`
	} `xml:"rect"`
	Texts []string `xml:"text"`
}

func TestSVG(t *testing.T) {
	rows := sample().Summary()
	s := SVG(rows)
	var doc svgDoc
	if err := xml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("chart is not XML: %v\n%s", err, s)
	}
	// Two legend squares, then two bars per metric.
	if len(doc.Rects) != 2+2*len(rows) {
		t.Fatalf("%d rects, want %d", len(doc.Rects), 2+2*len(rows))
	}
	width := func(i int) float64 {
		w, err := strconv.ParseFloat(doc.Rects[i].Width, 64)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for i, r := range rows {
		d, l := width(2+2*i), width(3+2*i)
		if math.IsNaN(r.Damselfly) || math.IsNaN(r.Linux) {
			continue
		}
		// The longer bar is full length; the shorter is in proportion.
		if max := math.Max(d, l); math.Abs(max-360) > 0.1 {
			t.Errorf("%s: longest bar %v, want 360", r.ID, max)
		}
		if l > 0 && math.Abs(d/l-r.Ratio) > 0.01 {
			t.Errorf("%s: bars %v and %v, ratio %v", r.ID, d, l, r.Ratio)
		}
	}
	// A guest with no value gets an empty bar labelled "-", and the other
	// guest's bar still has its length.
	res := sample()
	res.Runs = res.Runs[:1]
	doc = svgDoc{}
	if err := xml.Unmarshal([]byte(SVG(res.Summary())), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rects[2].Width != "360.0" || doc.Rects[3].Width != "0.0" {
		t.Errorf("bars %s and %s wide, want 360.0 and 0.0", doc.Rects[2].Width, doc.Rects[3].Width)
	}
	if !strings.Contains(strings.Join(doc.Texts, "|"), "|-|") {
		t.Errorf("missing value not labelled -: %q", doc.Texts)
	}
	names := (&Results{}).Summary()
	names[0].Name = `a<b & "c"`
	if err := xml.Unmarshal([]byte(SVG(names)), &doc); err != nil {
		t.Errorf("names are not escaped: %v", err)
	}
}

func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := sample().HTML(&b); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, want := range []string{"<svg", "</svg>", "make bench", "2026-11-24 05:00 UTC", "a &lt;note&gt;",
		"echo: connection reset", `<td class="met">met</td>`, `<td class="missed">missed</td>`} {
		if !strings.Contains(h, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(h, "<script") || regexp.MustCompile(`(src|href)="http`).MatchString(h) {
		t.Error("report loads a script or an external resource")
	}
	// One summary row per metric plus one per run (with headers).
	if n := strings.Count(h, "<tr>"); n != len(Metrics)+1+len(sample().Runs)+1 {
		t.Errorf("%d table rows", n)
	}
	// The page must be well-formed enough for an XML reader to walk it
	// (it is written as XHTML-compatible markup except the doctype and <br>).
	d := xml.NewDecoder(strings.NewReader(strings.ReplaceAll(strings.TrimPrefix(h, "<!DOCTYPE html>\n"), "<br>", "<br/>")))
	d.Strict = false
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("report: %v", err)
		}
	}
}
