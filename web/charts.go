package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/event"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"

	"github.com/benchd/benchd/runner"
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

// historyPoint is one point of the history chart's data: its x and y, and what the tooltip
// shows (commit, run, n, the value in its unit, and the stored verdict's p and change).
type historyPoint struct {
	Name   string     `json:"name"` // "#RUN": a click opens /runs/RUN
	Value  [2]float64 `json:"value"`
	Commit string     `json:"commit,omitempty"`
	Run    int64      `json:"run,omitempty"`
	N      int        `json:"n,omitempty"`
	Fmt    string     `json:"fmt,omitempty"`
	Status string     `json:"status,omitempty"`
	P      *float64   `json:"p,omitempty"`
	Delta  *float64   `json:"delta,omitempty"`
}

// historyData is what the history chart draws, sent beside the chart's option as JSON and
// applied by app.js (series in the option's order; categories for the commit axis).
type historyData struct {
	Series     [][]historyPoint `json:"series"`
	Categories []string         `json:"categories,omitempty"`
}

// historyTooltip lists, for the points under the pointer, the series, value, run, commit, n
// and the stored verdict (p and change vs the run's baseline). Text from the data is escaped.
//
// It uses single quotes only: go-echarts writes a function option as a JSON string and strips
// only the outer quotes, so a double quote inside would stay escaped (\") and break the script.
const historyTooltip = `function (ps) {
	if (!Array.isArray(ps)) { ps = [ps]; }
	var esc = echarts.format.encodeHTML, out = [];
	ps.forEach(function (p) {
		var d = p.data;
		if (!d || d.run === undefined) { return; }
		var s = esc(p.seriesName) + ': <b>' + esc(d.fmt) + '</b><br>run ' + d.run + ' · commit ' + esc(d.commit || '–') + ' · n=' + d.n;
		if (d.p !== undefined) { s += '<br>' + esc(d.status) + ' · p=' + d.p.toFixed(3) + ' · ' + (d.delta >= 0 ? '+' : '') + (100 * d.delta).toFixed(1) + '% vs baseline'; }
		out.push(s);
	});
	return out.join('<br>');
}`

// shortCommit is a commit's label on the commit axis: its first 7 characters, or the run when
// the commit is unknown.
func shortCommit(p PointView) string {
	if p.Commit == "" {
		return "#" + strconv.FormatInt(p.RunID, 10)
	}
	return p.Commit[:min(7, len(p.Commit))]
}

// historyChart is the benchmark page's chart, on a time axis or (v.XAxis "commit") a category
// axis of commits in run order: the median per run with its 95% CI, the baseline as a line,
// threshold limits as mark lines, change points as vertical lines, alerts as red points, and
// other branches' medians overlaid. A click on a point opens its run; the tooltip shows
// commit, run, n and p.
//
// go-echarts renders only the option (axes, marks, handlers): the points go beside it as JSON
// (historyData), because go-echarts post-processes its whole output with regular expressions,
// which cost more than everything else on the page with 1,000 points.
func historyChart(v *BenchmarkPage) Chart {
	const id = "history_chart"
	var data historyData
	x := func(p PointView) float64 { return float64(p.StartedAt.UnixMilli()) }
	if v.XAxis == "commit" {
		all := slices.Clone(v.Points)
		for _, o := range v.Overlays {
			all = append(all, o.Points...)
		}
		slices.SortStableFunc(all, func(a, b PointView) int {
			if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
				return c
			}
			return cmp.Compare(a.RunID, b.RunID)
		})
		at := make(map[int64]int, len(all))
		for _, p := range all {
			if _, dup := at[p.RunID]; !dup {
				at[p.RunID] = len(data.Categories)
				data.Categories = append(data.Categories, shortCommit(p))
			}
		}
		x = func(p PointView) float64 { return float64(at[p.RunID]) }
	}
	point := func(p PointView) historyPoint {
		hp := historyPoint{Name: "#" + strconv.FormatInt(p.RunID, 10), Value: [2]float64{x(p), p.Median},
			Commit: p.Commit, Run: p.RunID, N: p.N, Fmt: runner.FormatValue(p.Median, v.Unit), Status: p.Status}
		if p.Status != "" && p.Baseline != 0 { // p and change only against a baseline
			pv, d := p.P, p.Delta
			hp.P, hp.Delta = &pv, &d
		}
		return hp
	}
	med := make([]historyPoint, len(v.Points))
	lo := make([]historyPoint, 0, len(v.Points))
	hi := make([]historyPoint, 0, len(v.Points))
	for i, p := range v.Points {
		med[i] = point(p)
		if p.Lo != nil { // a run without an interval leaves a gap in the band
			lo = append(lo, historyPoint{Value: [2]float64{x(p), *p.Lo}})
			hi = append(hi, historyPoint{Value: [2]float64{x(p), *p.Hi}})
		}
	}
	data.Series = [][]historyPoint{med, lo, hi}
	for _, o := range v.Overlays {
		s := make([]historyPoint, len(o.Points))
		for i, p := range o.Points {
			s[i] = point(p)
		}
		data.Series = append(data.Series, s)
	}

	line := charts.NewLine()
	xaxis := opts.XAxis{Type: "time"}
	if v.XAxis == "commit" {
		xaxis = opts.XAxis{Type: "category", Name: "commit", AxisLabel: &opts.AxisLabel{Rotate: 45}}
	}
	line.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit(id, "420px")),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis", Formatter: opts.FuncOpts(historyTooltip)}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Bottom: "0"}),
		charts.WithXAxisOpts(xaxis),
		charts.WithYAxisOpts(opts.YAxis{Name: v.Unit, Scale: opts.Bool(true)}),
		charts.WithGridOpts(opts.Grid{Bottom: "90"}),
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
	byRun := make(map[int64]PointView, len(v.Points))
	for _, p := range v.Points {
		byRun[p.RunID] = p
	}
	if len(v.ChangePoints) > 0 {
		var xl []opts.MarkLineNameXAxisItem
		for _, cp := range v.ChangePoints {
			xl = append(xl, opts.MarkLineNameXAxisItem{Name: fmt.Sprintf("change %+.0f%%", cp.Delta*100), XAxis: x(byRun[cp.RunID])})
		}
		marks = append(marks, charts.WithMarkLineNameXAxisItemOpts(xl...))
	}
	if len(lines) > 0 || len(v.ChangePoints) > 0 {
		marks = append(marks, charts.WithMarkLineNameYAxisItemOpts(lines...),
			charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"}, Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}"}}))
	}
	var pins []opts.MarkPointNameCoordItem
	for _, p := range v.Points {
		if v.alerted[p.RunID] {
			pins = append(pins, opts.MarkPointNameCoordItem{Name: "#" + strconv.FormatInt(p.RunID, 10), Coordinate: []interface{}{x(p), p.Median}, Symbol: "pin", SymbolSize: 30,
				ItemStyle: &opts.ItemStyle{Color: "#c62828"}})
		}
	}
	if len(pins) > 0 {
		marks = append(marks, charts.WithMarkPointNameCoordItemOpts(pins...))
	}
	line.AddSeries("median", nil, marks...)
	dashed := []charts.SeriesOpts{charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Opacity: opts.Float(0.6)}), charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)})}
	line.AddSeries("95% CI low", nil, dashed...)
	line.AddSeries("95% CI high", nil, dashed...)
	for _, o := range v.Overlays {
		line.AddSeries("median on "+o.Branch, nil)
	}
	ch := snippet(id, line)
	js, err := json.Marshal(data) // escapes <, > and &: safe inside a script element
	if err != nil {
		panic(fmt.Sprintf("web: encoding chart data: %v", err)) // only finite numbers and strings
	}
	ch.Script += template.HTML(`<script type="application/json" class="chart-data" data-chart="`+id+`">`) + template.HTML(js) + `</script>`
	return ch
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

// fmtCI returns a formatter of a 95% CI in a unit: "lo – hi", or "–" when there is none.
func fmtCI(lo, hi *float64) func(unit string) string {
	return func(unit string) string {
		if lo == nil || hi == nil {
			return "–"
		}
		sc := runner.ScaleOf(unit, *lo, *hi)
		return sc.Format(*lo) + " – " + sc.Format(*hi)
	}
}
