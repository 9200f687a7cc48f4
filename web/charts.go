package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/event"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
)

// Chart is a rendered go-echarts chart for a page: its element and its script.
type Chart struct {
	ID      string
	Element template.HTML
	Script  template.HTML
}

// chartInit is the Initialization of every chart: echarts served by benchd itself (never a
// CDN), a responsive width.
func chartInit(id, height string) opts.Initialization {
	return opts.Initialization{AssetsHost: staticPrefix, ChartID: id, Width: "100%", Height: height}
}

// snippet renders a chart into a Chart that is safe to put in a page. go-echarts writes the
// option JSON into the script without HTML escaping, so a benchmark called
// "</script><script>…" would end the script element; every "<" of the script body is written
// as the JSON/JS escape \u003c (benchd's own chart code has no "<" outside strings).
func snippet(id string, r interface{ RenderSnippet() render.ChartSnippet }) Chart {
	s := r.RenderSnippet()
	script := strings.TrimSpace(s.Script)
	const open, closeTag = `<script type="text/javascript">`, `</script>`
	body := strings.TrimSuffix(strings.TrimPrefix(script, open), closeTag)
	body = strings.ReplaceAll(body, "<", `\u003c`)
	return Chart{ID: id, Element: template.HTML(s.Element), Script: template.HTML(open + body + closeTag)}
}

// deltaChart is the run page's bar chart of each verdict's change vs the baseline, in percent,
// coloured by verdict.
func deltaChart(vs []VerdictView) Chart {
	bar := charts.NewBar()
	labels := make([]string, 0, len(vs))
	data := make([]opts.BarData, 0, len(vs))
	for _, v := range vs {
		if v.Baseline == 0 {
			continue
		}
		labels = append(labels, v.Name+" "+v.Unit)
		data = append(data, opts.BarData{Value: round(v.Delta*100, 2), ItemStyle: &opts.ItemStyle{Color: statusColor(v.Status)}})
	}
	h := strconv.Itoa(max(240, 22*len(labels)+60)) + "px"
	bar.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit("delta_chart", h)),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithXAxisOpts(opts.XAxis{Name: "change vs baseline, %", NameLocation: "middle", NameGap: 25}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", AxisLabel: &opts.AxisLabel{Width: 220, Overflow: "truncate"}}),
		charts.WithGridOpts(opts.Grid{Left: "230", Right: "30", Top: "10", Bottom: "40"}),
		charts.WithAnimation(false),
	)
	bar.SetXAxis(labels).AddSeries("delta %", data)
	bar.XYReversal()
	return snippet("delta_chart", bar)
}

// historyChart is the benchmark page's chart on a time axis: the median per run with its 95%
// CI, the baseline as a line, threshold limits as mark lines, change points as vertical lines,
// alerts as red points, and other branches' medians overlaid. A click on a point opens its run.
func historyChart(v *BenchmarkPage) Chart {
	line := charts.NewLine()
	pt := func(p PointView, y float64) opts.LineData {
		return opts.LineData{Name: "#" + strconv.FormatInt(p.RunID, 10), Value: []interface{}{p.StartedAt.UnixMilli(), y}}
	}
	med := make([]opts.LineData, len(v.Points))
	lo := make([]opts.LineData, len(v.Points))
	hi := make([]opts.LineData, len(v.Points))
	for i, p := range v.Points {
		med[i], lo[i], hi[i] = pt(p, p.Median), pt(p, p.Lo), pt(p, p.Hi)
	}
	line.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit("history_chart", "420px")),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Bottom: "0"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "time"}),
		charts.WithYAxisOpts(opts.YAxis{Name: v.Unit, Scale: opts.Bool(true)}),
		charts.WithDataZoomOpts(opts.DataZoom{Type: "inside"}),
		charts.WithAnimation(false),
		charts.WithEventListeners(event.Listener{EventName: "click",
			Handler: opts.FuncOpts(`function (p) {
				var x = p && p.data && p.data.name;
				if (typeof x === "string" && x.charAt(0) === "#") { window.location.href = "/runs/" + x.slice(1); }
			}`)}),
	)
	var marks []charts.SeriesOpts
	var lines []opts.MarkLineNameYAxisItem
	if v.Baseline != nil {
		lines = append(lines, opts.MarkLineNameYAxisItem{Name: "baseline", YAxis: v.Baseline.Median})
	}
	for _, l := range v.Limits {
		lines = append(lines, opts.MarkLineNameYAxisItem{Name: l.Name, YAxis: l.Value})
	}
	if len(v.ChangePoints) > 0 {
		var xl []opts.MarkLineNameXAxisItem
		for _, cp := range v.ChangePoints {
			xl = append(xl, opts.MarkLineNameXAxisItem{Name: fmt.Sprintf("change %+.0f%%", cp.Delta*100), XAxis: cp.StartedAt.UnixMilli()})
		}
		marks = append(marks, charts.WithMarkLineNameXAxisItemOpts(xl...))
	}
	if len(lines) > 0 || len(v.ChangePoints) > 0 {
		marks = append(marks, charts.WithMarkLineNameYAxisItemOpts(lines...),
			charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"}, Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}"}}))
	}
	var points []opts.MarkPointNameCoordItem
	for _, p := range v.Points {
		if v.alerted[p.RunID] {
			points = append(points, opts.MarkPointNameCoordItem{Name: "#" + strconv.FormatInt(p.RunID, 10), Coordinate: []interface{}{p.StartedAt.UnixMilli(), p.Median}, Symbol: "pin", SymbolSize: 30,
				ItemStyle: &opts.ItemStyle{Color: "#c62828"}})
		}
	}
	if len(points) > 0 {
		marks = append(marks, charts.WithMarkPointNameCoordItemOpts(points...))
	}
	line.AddSeries("median", med, marks...)
	dashed := []charts.SeriesOpts{charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Opacity: opts.Float(0.6)}), charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)})}
	line.AddSeries("95% CI low", lo, dashed...)
	line.AddSeries("95% CI high", hi, dashed...)
	for _, o := range v.Overlays {
		data := make([]opts.LineData, len(o.Points))
		for i, p := range o.Points {
			data[i] = pt(p, p.Median)
		}
		line.AddSeries("median on "+o.Branch, data)
	}
	return snippet("history_chart", line)
}

func statusColor(s string) string {
	switch s {
	case "regressed":
		return "#c62828"
	case "warning":
		return "#b26a00"
	case "improved":
		return "#1b7f3b"
	}
	return "#7a8591"
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// fmtValue formats a value in its unit for tables: sec/op in ns/µs/ms/s, others with SI
// prefixes and 3 significant digits.
func fmtValue(v float64, unit string) string {
	if unit == "sec/op" {
		switch a := math.Abs(v); {
		case a == 0:
			return "0 s"
		case a < 1e-6:
			return fmt.Sprintf("%.3g ns", v*1e9)
		case a < 1e-3:
			return fmt.Sprintf("%.3g µs", v*1e6)
		case a < 1:
			return fmt.Sprintf("%.3g ms", v*1e3)
		}
		return fmt.Sprintf("%.3g s", v)
	}
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
