package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Table writes the summary as aligned text: one line per metric with both
// medians, the ratio Damselfly/Linux and the target of issue #9.
func (res *Results) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "figure (median of %d)\tdamselfly\tlinux\tdamselfly/linux\ttarget\t\t\n", res.Setup.Runs)
	for _, r := range res.Summary() {
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, r.Unit,
			FormatValue(r.Damselfly), FormatValue(r.Linux), FormatValue(r.Ratio), r.TargetText(), r.Verdict())
	}
	return tw.Flush()
}

// Colours of the two guests in the chart.
const (
	colourDamselfly = "#1b7f79"
	colourLinux     = "#8a8f98"
)

// SVG draws the summary as grouped horizontal bars, one group per metric.
// Metrics have different units, so each group is scaled to its larger
// median; the bars compare the two guests, not one metric with another.
func SVG(rows []Row) string {
	const (
		width   = 760
		labelW  = 280 // metric names
		barMax  = 360 // the longer bar of a group
		barH    = 14
		groupH  = 2*barH + 18
		top     = 34
		valueW  = 8 // gap between a bar's end and its value
		fontCSS = "font-family:sans-serif;font-size:12px"
	)
	height := top + len(rows)*groupH + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" style="%s" role="img" aria-label="Damselfly and Linux medians per metric">`,
		width, height, width, height, fontCSS)
	b.WriteString("\n")
	// Legend.
	fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="12" fill="%s"/><text x="%d" y="18">damselfly</text>`, labelW, colourDamselfly, labelW+16)
	fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="12" fill="%s"/><text x="%d" y="18">linux</text>`, labelW+100, colourLinux, labelW+116)
	fmt.Fprintf(&b, `<text x="%d" y="18" text-anchor="end" fill="#333">damselfly/linux</text>`, width-6)
	b.WriteString("\n")
	for i, r := range rows {
		y := top + i*groupH
		scale := 0.0 // the larger of the values present
		for _, v := range []float64{r.Damselfly, r.Linux} {
			if !math.IsNaN(v) && v > scale {
				scale = v
			}
		}
		better := "higher is better"
		if r.Lower {
			better = "lower is better"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-10, y+barH, template.HTMLEscapeString(r.Name))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#666">%s, %s</text>`, labelW-10, y+2*barH+2, template.HTMLEscapeString(r.Unit), better)
		b.WriteString("\n")
		for j, bar := range []struct {
			v      float64
			colour string
		}{{r.Damselfly, colourDamselfly}, {r.Linux, colourLinux}} {
			by := y + j*barH
			w := 0.0
			if !math.IsNaN(bar.v) && bar.v > 0 && scale > 0 {
				w = bar.v / scale * barMax
			}
			label := FormatValue(bar.v)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, labelW, by, w, barH-2, bar.colour)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`, float64(labelW)+w+valueW, by+barH-3, template.HTMLEscapeString(label))
		}
		if !math.IsNaN(r.Ratio) {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#333">%sx</text>`, width-6, y+barH+4, FormatValue(r.Ratio))
		}
		b.WriteString("\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// runValue is a run's figure for the per-run table.
func runValue(r Run, id string) string {
	v, ok := r.Values[id]
	if !ok {
		return "-"
	}
	return FormatValue(v)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"fmt": FormatValue, "value": runValue,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Damselfly vs Linux: make bench</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.met { color: #17683c; } .missed { color: #a22; }
.warning { background: #fff3cd; padding: 0.5em 1em; border: 1px solid #e0c66f; }
code { background: #f4f4f4; padding: 0 0.2em; }
</style>
</head>
<body>
<h1>Damselfly vs a Linux guest running the same handler</h1>
<p>{{.Setup.Date.UTC.Format "2006-01-02 15:04 MST"}}: <code>{{.Setup.Command}}</code>
({{.Setup.Mode}} mode, {{.Setup.Runs}} boots of each guest, alternating; QEMU -M microvm,
-smp {{.Setup.SMP}}, -m {{.Setup.Memory}}, {{.Setup.Accel}}, {{.Setup.Net}} networking).</p>
{{if .Setup.Warning}}<p class="warning">{{.Setup.Warning}}</p>{{end}}
<h2>Medians</h2>
<table>
<tr><th>figure</th><th>unit</th><th>damselfly</th><th>linux</th><th>damselfly/linux</th><th>target (issue #9)</th><th></th></tr>
{{range .Rows}}<tr><td>{{.Name}}</td><td>{{.Unit}}</td><td>{{fmt .Damselfly}}</td><td>{{fmt .Linux}}</td><td>{{fmt .Ratio}}</td><td>{{.TargetText}}</td><td class="{{.Verdict}}">{{.Verdict}}</td></tr>
{{end}}</table>
{{.Chart}}
<h2>Every run</h2>
<table>
<tr><th>guest</th><th>round</th>{{range .Metrics}}<th>{{.ID}}</th>{{end}}<th>errors</th></tr>
{{range .Runs}}<tr><td>{{.Guest}}</td><td>{{.Round}}</td>{{$r := .}}{{range $.Metrics}}<td>{{value $r .ID}}</td>{{end}}<td>{{range .Errors}}{{.}}<br>{{end}}</td></tr>
{{end}}</table>
{{if .Setup.Notes}}<h2>Method</h2>
<ul>{{range .Setup.Notes}}<li>{{.}}</li>
{{end}}</ul>{{end}}
<p>docs/bench.md describes the method; results.json beside this page has every figure.</p>
</body>
</html>
`))

// HTML writes report.html: the medians as a table and an SVG chart, every
// run, and the setup. It needs no script or external file.
func (res *Results) HTML(w io.Writer) error {
	rows := res.Summary()
	var buf bytes.Buffer
	err := page.Execute(&buf, struct {
		*Results
		Rows    []Row
		Chart   template.HTML
		Metrics []Metric
	}{res, rows, template.HTML(SVG(rows)), Metrics})
	if err != nil {
		return fmt.Errorf("bench: report.html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
