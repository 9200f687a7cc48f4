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

// deltaBars is how many bars the change chart draws at most: the worst and largest changes
// (the table below it lists every result).
const deltaBars = 30

// deltaChart is the run page's bar chart of each verdict's change vs the baseline, in percent,
// coloured by verdict: worst first, then the largest changes, at most deltaBars of them, one
// 20 px row each. ok is false when no verdict had a baseline (nothing to draw: a first run).
func deltaChart(vs []VerdictView) (ch Chart, ok bool) {
	judged := make([]VerdictView, 0, len(vs))
	for _, v := range vs {
		if v.Baseline != 0 {
			judged = append(judged, v)
		}
	}
	if len(judged) == 0 {
		return Chart{}, false
	}
	slices.SortStableFunc(judged, func(a, b VerdictView) int {
		if c := cmp.Compare(severity(a.Status), severity(b.Status)); c != 0 {
			return c
		}
		return cmp.Compare(math.Abs(b.Delta), math.Abs(a.Delta))
	})
	judged = judged[:min(len(judged), deltaBars)]
	slices.Reverse(judged) // a category y-axis draws its first entry at the bottom
	bar := charts.NewBar()
	labels := make([]string, 0, len(judged))
	data := make([]opts.BarData, 0, len(judged))
	for _, v := range judged {
		labels = append(labels, v.Name+" "+v.Unit)
		data = append(data, opts.BarData{Value: round(v.Delta*100, 2), ItemStyle: &opts.ItemStyle{Color: statusColor(v.Status)}})
	}
	h := strconv.Itoa(max(140, 20*len(labels)+50)) + "px"
	bar.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit("delta_chart", h)),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithXAxisOpts(opts.XAxis{Name: "change vs baseline, %", NameLocation: "middle", NameGap: 25}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", AxisLabel: &opts.AxisLabel{Width: 200, Overflow: "truncate"}}),
		charts.WithGridOpts(opts.Grid{Left: "8", Right: "24", Top: "8", Bottom: "40", ContainLabel: opts.Bool(true)}),
		charts.WithAnimation(false),
	)
	bar.SetXAxis(labels).AddSeries("change %", data)
	bar.XYReversal()
	return snippet("delta_chart", bar), true
}

// historyPoint is one point of the history chart's data: its x and y (y in the chart's
// display unit, historyData.Scale), and what the tooltip shows.
type historyPoint struct {
	Name  string     `json:"name,omitempty"` // "#RUN": a click opens /runs/RUN
	Value [2]float64 `json:"value"`
	// The tooltip's lines: commit (short) and message, date, branch, n, the value and CI in
	// human units, the stored verdict with p and change against the baseline it was judged
	// against (Base, its value; BaseName, its name when known).
	Commit   string   `json:"commit,omitempty"`
	Message  string   `json:"msg,omitempty"`
	Date     string   `json:"date,omitempty"`
	Branch   string   `json:"branch,omitempty"`
	Run      int64    `json:"run,omitempty"`
	N        int      `json:"n,omitempty"`
	Fmt      string   `json:"fmt,omitempty"`
	CI       string   `json:"ci,omitempty"`
	Status   string   `json:"status,omitempty"`
	P        *float64 `json:"p,omitempty"`
	Delta    *float64 `json:"delta,omitempty"`
	Base     string   `json:"base,omitempty"`
	BaseName string   `json:"base_name,omitempty"`
}

// historyData is what the history chart draws, sent beside the go-echarts option as JSON and
// merged into it by app.js (chart.setOption): the series with their marks, the y-axis, the
// categories of a commit axis. Scale says how values were scaled for display.
type historyData struct {
	Option historyOption `json:"option"`
	// Factor is the raw value of one display unit (y = raw / Factor); Label is the axis name.
	Factor float64 `json:"factor"`
	Label  string  `json:"label"`
}

// historyOption is the part of the ECharts option benchd builds itself (go-echarts has no
// stacked bands, mark areas or mark-line precision, and post-processes its output with regular
// expressions that cost more than the page with 1,000 points).
type historyOption struct {
	Series []any          `json:"series"`
	YAxis  map[string]any `json:"yAxis"`
	XAxis  map[string]any `json:"xAxis,omitempty"`
	// Tooltip keeps the tooltip inside the chart (a phone's screen).
	Tooltip map[string]any `json:"tooltip"`
}

// historyTooltip lists, for the points under the pointer, the series and value, short commit
// and message, date, branch, n, 95% CI, and the stored verdict with p and change against the
// baseline it was judged against. Text from the data is escaped.
//
// It uses single quotes only: go-echarts writes a function option as a JSON string and strips
// only the outer quotes, so a double quote inside would stay escaped (\") and break the script.
const historyTooltip = `function (ps) {
	if (!Array.isArray(ps)) { ps = [ps]; }
	var esc = echarts.format.encodeHTML, out = [];
	ps.forEach(function (p) {
		var d = p.data;
		if (!d || d.run === undefined) { return; }
		var s = '<b>' + esc(d.fmt) + '</b> ' + esc(p.seriesName) + (d.ci ? ' · 95% CI ' + esc(d.ci) : '') +
			'<br>commit ' + esc(d.commit || '–') + (d.msg ? ' ' + esc(d.msg) : '') +
			'<br>' + esc(d.date) + ' · ' + esc(d.branch) + ' · run ' + d.run + ' · n=' + d.n;
		if (d.p !== undefined) {
			s += '<br>' + esc(d.status) + ' · ' + (d.delta >= 0 ? '+' : '') + (100 * d.delta).toFixed(1) + '% vs ' +
				(d.base_name ? esc(d.base_name) + ' ' : 'its baseline ') + esc(d.base) + ' · p=' + d.p.toFixed(3);
		} else if (d.status) {
			s += '<br>' + esc(d.status) + ' · no baseline';
		}
		out.push(s);
	});
	return out.join('<br><br>');
}`

// shortCommit is a commit's label on the commit axis: its first 7 characters, or the run when
// the commit is unknown.
func shortCommit(p PointView) string {
	if p.Commit == "" {
		return "#" + strconv.FormatInt(p.RunID, 10)
	}
	return p.Commit[:min(7, len(p.Commit))]
}

// Colours of the history chart: the branch's median and band, its marks, and the overlaid
// branches (none of them the alert red or the threshold amber).
const (
	colorMedian    = "#2f6feb"
	colorBaseline  = "#1b7f3b"
	colorLimit     = "#b26a00"
	colorChange    = "#8e44ad"
	colorAlert     = "#c62828"
	colorAlertArea = "rgba(198,40,40,0.10)"
)

var overlayColors = []string{"#00897b", "#8d6e63", "#5c6bc0", "#c0ca33", "#00acc1"}

// historyChart is the benchmark page's chart, on a time axis or (v.XAxis "commit") a category
// axis of commits in run order, with y in a display unit scaled to the values (µs/op, not
// 0.000039 sec/op; runner.ScaleOf) on a linear or (v.YAxis "log") log axis: the median per
// run with its 95% CI as a shaded band, the baseline and each threshold as labelled lines at
// their exact values, change points as vertical lines, alerts as red pins, each active
// alert's commit range (previous run → alerted run) shaded, and other branches overlaid in
// their own colours with their own bands. A click on a point opens its run.
func historyChart(v *BenchmarkPage) Chart {
	const id = "history_chart"
	meds := make([]float64, 0, len(v.Points))
	for _, p := range v.Points {
		meds = append(meds, p.Median)
	}
	sc := runner.ScaleOf(v.Unit, meds...)
	// y is a value in the display unit, to 12 significant digits: 45e-6 s is 45 µs, not
	// 45.00000000000001.
	y := func(raw float64) float64 {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(raw/sc.Factor, 'g', 12, 64), 64)
		return v
	}
	x := func(p PointView) float64 { return float64(p.StartedAt.UnixMilli()) }
	var categories []string
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
				at[p.RunID] = len(categories)
				categories = append(categories, shortCommit(p))
			}
		}
		x = func(p PointView) float64 { return float64(at[p.RunID]) }
	}
	point := func(p PointView, branch string) historyPoint {
		hp := historyPoint{Name: "#" + strconv.FormatInt(p.RunID, 10), Value: [2]float64{x(p), y(p.Median)},
			Commit: shortCommit(p), Message: p.Message, Date: p.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), Branch: branch,
			Run: p.RunID, N: p.N, Fmt: sc.Format(p.Median), Status: p.Status, BaseName: p.BaselineName}
		if p.Lo != nil { // in the chart's one scale, so a tooltip's numbers compare at a glance
			hp.CI = sc.Format(*p.Lo) + " – " + sc.Format(*p.Hi)
		}
		if p.Status != "" && p.Baseline != 0 { // p and change only against a baseline
			pv, d := p.P, p.Delta
			hp.P, hp.Delta, hp.Base = &pv, &d, sc.Format(p.Baseline)
		}
		return hp
	}
	noTip := map[string]any{"show": false}
	// series returns a branch's median line and its 95% CI band: a transparent lower bound and
	// the band's height stacked on it, filled (a run without an interval is left out of the band).
	series := func(name, branch, color string, pts []PointView) []map[string]any {
		med := make([]historyPoint, len(pts))
		var lo, band [][2]float64
		for i, p := range pts {
			med[i] = point(p, branch)
			if p.Lo != nil {
				lo = append(lo, [2]float64{x(p), y(*p.Lo)})
				band = append(band, [2]float64{x(p), y(*p.Hi) - y(*p.Lo)})
			}
		}
		ciName, stack := "95% CI", "ci "+branch
		if name != "median" {
			ciName = "95% CI on " + branch
		}
		return []map[string]any{
			{"name": name, "type": "line", "data": med, "color": color, "symbolSize": 5, "z": 3},
			{"name": ciName, "type": "line", "data": lo, "stack": stack, "color": color, "symbol": "none",
				"lineStyle": map[string]any{"opacity": 0}, "tooltip": noTip, "silent": true},
			{"name": ciName, "type": "line", "data": band, "stack": stack, "color": color, "symbol": "none",
				"lineStyle": map[string]any{"opacity": 0}, "areaStyle": map[string]any{"opacity": 0.18}, "tooltip": noTip, "silent": true},
		}
	}
	main := series("median", v.Branch, colorMedian, v.Points)

	// Marks on the median series: horizontal lines at the baseline and each limit, each
	// labelled with its name and value (precision high enough that no value is rounded to 0).
	label := func(text, color string) map[string]any {
		return map[string]any{"show": true, "formatter": text, "position": "insideEndTop", "color": color}
	}
	var lines []map[string]any
	if v.Baseline != nil {
		name := "baseline"
		if v.BaselineName != "" {
			name = "baseline " + v.BaselineName
		}
		lines = append(lines, map[string]any{"name": name, "yAxis": y(v.Baseline.Median),
			"label":     label(name+" "+runner.FormatValue(v.Baseline.Median, v.Unit), colorBaseline),
			"lineStyle": map[string]any{"color": colorBaseline, "type": "solid", "width": 1.5}})
	}
	for _, l := range v.Limits {
		lines = append(lines, map[string]any{"name": l.Name, "yAxis": y(l.Value),
			"label":     label(l.Name+" "+runner.FormatValue(l.Value, v.Unit), colorLimit),
			"lineStyle": map[string]any{"color": colorLimit, "type": "dashed", "width": 1.5}})
	}
	byRun := make(map[int64]int, len(v.Points))
	for i, p := range v.Points {
		byRun[p.RunID] = i
	}
	for _, cp := range v.ChangePoints {
		lines = append(lines, map[string]any{"name": fmt.Sprintf("change %+.0f%%", cp.Delta*100), "xAxis": x(v.Points[byRun[cp.RunID]]),
			"label":     map[string]any{"show": true, "formatter": fmt.Sprintf("change %+.0f%%", cp.Delta*100), "position": "end", "color": colorChange},
			"lineStyle": map[string]any{"color": colorChange, "type": "dotted", "width": 1.5}})
	}
	// Alert pins on their points; the runs of active alerts shaded from the run before each
	// (the last good one) to it, consecutive runs merged into one range labelled once.
	var pins []map[string]any
	var areas [][2]map[string]any
	open, from := 0, 0
	flush := func(last int) {
		if open == 0 {
			return
		}
		text := "open alert"
		if open > 1 {
			text = fmt.Sprintf("open alerts (%d runs)", open)
		}
		areas = append(areas, [2]map[string]any{{"name": text, "xAxis": x(v.Points[from])}, {"xAxis": x(v.Points[last])}})
		open = 0
	}
	for i, p := range v.Points {
		st, ok := v.alerted[p.RunID]
		if ok {
			pins = append(pins, map[string]any{"name": "#" + strconv.FormatInt(p.RunID, 10), "coord": []float64{x(p), y(p.Median)}})
		}
		if ok && st == "active" {
			if open == 0 {
				from = max(i-1, 0)
			}
			open++
			continue
		}
		flush(i - 1)
	}
	flush(len(v.Points) - 1)
	if len(lines) > 0 {
		main[0]["markLine"] = map[string]any{"symbol": []string{"none", "none"}, "precision": 10, "silent": true, "data": lines}
	}
	if len(pins) > 0 {
		main[0]["markPoint"] = map[string]any{"symbol": "pin", "symbolSize": 30, "itemStyle": map[string]any{"color": colorAlert},
			"label": map[string]any{"show": false}, "data": pins}
	}
	if len(areas) > 0 {
		main[0]["markArea"] = map[string]any{"silent": true, "itemStyle": map[string]any{"color": colorAlertArea},
			"label": map[string]any{"show": true, "color": colorAlert, "position": "insideTop"}, "data": areas}
	}
	data := historyData{Factor: sc.Factor, Label: sc.Label}
	data.Option.Tooltip = map[string]any{"confine": true}
	for _, m := range main {
		data.Option.Series = append(data.Option.Series, m)
	}
	for i, o := range v.Overlays {
		for _, m := range series("median on "+o.Branch, o.Branch, overlayColors[i%len(overlayColors)], o.Points) {
			data.Option.Series = append(data.Option.Series, m)
		}
	}
	ytype := "value"
	if v.YAxis == "log" {
		ytype = "log"
	}
	data.Option.YAxis = map[string]any{"type": ytype, "name": sc.Label, "scale": true,
		"axisLabel": map[string]any{"formatter": "{value}" + symbolSuffix(sc.Symbol)}}
	if categories != nil {
		data.Option.XAxis = map[string]any{"data": categories}
	}

	line := charts.NewLine()
	xaxis := opts.XAxis{Type: "time", AxisLabel: &opts.AxisLabel{HideOverlap: opts.Bool(true)}}
	if v.XAxis == "commit" {
		xaxis = opts.XAxis{Type: "category", Name: "commit", AxisLabel: &opts.AxisLabel{Rotate: 45, HideOverlap: opts.Bool(true)}}
	}
	line.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit(id, "420px")),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis", Formatter: opts.FuncOpts(historyTooltip)}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Bottom: "0", Type: "scroll"}),
		charts.WithXAxisOpts(xaxis),
		charts.WithYAxisOpts(opts.YAxis{Name: sc.Label, Scale: opts.Bool(true)}),
		charts.WithGridOpts(opts.Grid{Left: "8", Right: "16", Top: "40", Bottom: "40", ContainLabel: opts.Bool(true)}),
		charts.WithDataZoomOpts(opts.DataZoom{Type: "inside"}),
		charts.WithAnimation(false),
		charts.WithEventListeners(event.Listener{EventName: "click",
			Handler: opts.FuncOpts(`function (p) {
				var x = p && p.data && p.data.name;
				if (typeof x === "string" && x.charAt(0) === "#") { window.location.href = "/runs/" + x.slice(1); }
			}`)}),
	)
	ch := snippet(id, line)
	js, err := json.Marshal(data) // escapes <, > and &: safe inside a script element
	if err != nil {
		panic(fmt.Sprintf("web: encoding chart data: %v", err)) // only finite numbers and strings
	}
	ch.Script += template.HTML(`<script type="application/json" class="chart-data" data-chart="`+id+`">`) + template.HTML(js) + `</script>`
	return ch
}

// symbolSuffix is what follows a number on an axis label in a display unit: " µs", " KiB",
// "M", or nothing.
func symbolSuffix(sym string) string {
	switch sym {
	case "", "k", "M", "G", "T":
		return sym
	}
	return " " + sym
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
