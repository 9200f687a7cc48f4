package web

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// longName is a 300-character benchmark name: it must not widen any page.
var longName = "Parse/" + strings.Repeat("a-very-long-benchmark-name-", 11)[:294]

// stepScenario is the walk-through database: 60 runs of main an hour apart, with
// Create/n=1000 25% slower (sec/op) from run 41 on; a named baseline "main" at run 30; an
// upper limit on Create/n=1000 sec/op; a feature branch of 10 runs overlaid; and a benchmark
// with a 300-character name.
type stepScenario struct {
	Runs     []IngestReply // main's, oldest first
	Step     int           // index in Runs of the first slow run
	Baseline IngestReply   // the run named "main"
	Limit    float64       // the sec/op upper limit of Create/n=1000
}

const (
	stepRuns  = 60
	stepAt    = 40
	stepLimit = 45e-6 // sec/op
)

// seedStep stores the step scenario through the Ingester, as POSTs do (each run judged).
func seedStep(t *testing.T, e *env) stepScenario {
	t.Helper()
	ctx := context.Background()
	for _, th := range []runner.Threshold{
		{Benchmark: ".*", Kind: runner.KindRegression, Warn: 5, Note: "significant (U test) and ≥ 5% worse than the baseline"},
		{Benchmark: "Create/n=1000", Unit: "sec/op", Kind: runner.KindUpper, Warn: stepLimit, Note: "target: 45 µs per create"},
		{Benchmark: "Create/.*", Unit: "sessions/s", Kind: runner.KindLower, Warn: 1000, Note: "seed: creation warning below 1,000 sessions/s"},
	} {
		if _, err := e.db.Store.CreateThreshold(ctx, "sessioncore", th); err != nil {
			t.Fatal(err)
		}
	}
	set, err := runner.Parse(strings.NewReader(readBench(t)), "bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 60))
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	results := func(i int, branch string) []runner.Result {
		var out []runner.Result
		for _, r := range set.Results {
			r.Samples = slices.Clone(r.Samples)
			for k := range r.Samples {
				f := 1 + 0.01*rng.NormFloat64()
				if branch == "main" && i >= stepAt && r.Name == "Create/n=1000" {
					switch r.Unit {
					case "sec/op":
						f *= 1.25
					case "sessions/s":
						f /= 1.25
					}
				}
				if branch == "feature" && r.Name == "Create/n=1000" && r.Unit == "sec/op" {
					f *= 0.9
				}
				r.Samples[k] *= f
			}
			out = append(out, r)
		}
		long := runner.Result{Name: longName, Unit: "sec/op", Better: runner.LowerBetter}
		for range 8 {
			long.Samples = append(long.Samples, 1.2e-6*(1+0.01*rng.NormFloat64()))
		}
		return append(out, long)
	}
	var sc stepScenario
	sc.Step, sc.Limit = stepAt, stepLimit
	for i := range stepRuns {
		in := &RunInput{Branch: "main", Testbed: "bench", Commit: fmt.Sprintf("%07x%033d", 0xa11ce00+i*7919, i), Trigger: "ci",
			StartedAt: start.Add(time.Duration(i) * time.Hour), Config: set.Config, Results: results(i, "main")}
		rep, _, err := e.srv.submit(ctx, "sessioncore", in, "")
		if err != nil {
			t.Fatalf("storing run %d: %v", i, err)
		}
		sc.Runs = append(sc.Runs, *rep)
		if i == stepAt { // what benchd post tells the server from git
			if err := e.db.Store.SetCommit(ctx, "sessioncore", db.Commit{SHA: in.Commit, Message: "registry: copy the session map on every create",
				CommittedAt: in.StartedAt.Add(-20 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 29 {
			if _, err := e.db.Store.SetBaseline(ctx, "sessioncore", "main", rep.RunID); err != nil {
				t.Fatal(err)
			}
			sc.Baseline = *rep
		}
	}
	for i := range 10 {
		in := &RunInput{Branch: "feature", Testbed: "bench", Commit: fmt.Sprintf("%07x%033d", 0xfea7000+i*31, i), Trigger: "ci",
			StartedAt: start.Add(time.Duration(30+3*i)*time.Hour + 30*time.Minute), Config: set.Config, Results: results(i, "feature")}
		if _, _, err := e.srv.submit(ctx, "sessioncore", in, ""); err != nil {
			t.Fatalf("storing feature run %d: %v", i, err)
		}
	}
	return sc
}

// fakeJobs is a job queue holding one job in each state the jobs page shows.
type fakeJobs struct{ queued []RunJob }

func (f *fakeJobs) EnqueueDelivery(context.Context, string, string, RunJob) (int64, bool, error) {
	return 0, false, nil
}
func (f *fakeJobs) EnqueueChangePoints(context.Context, int64) error { return nil }
func (f *fakeJobs) Enqueue(_ context.Context, j RunJob) (int64, error) {
	f.queued = append(f.queued, j)
	return int64(100 + len(f.queued)), nil
}
func (f *fakeJobs) ListJobs(context.Context, int) ([]JobView, error) {
	at := time.Date(2026, 11, 3, 20, 0, 0, 0, time.UTC)
	t1, t2 := at.Add(time.Minute), at.Add(3*time.Minute)
	return []JobView{
		{ID: 64, State: "available", Project: "sessioncore", Branch: "main", Suite: "quick", Trigger: "schedule", Attempt: 0, MaxAttempts: 3, CreatedAt: at.Add(5 * time.Minute)},
		{ID: 63, State: "running", Project: "sessioncore", Branch: "main", Suite: "quick", Trigger: "webhook", Attempt: 1, MaxAttempts: 3, CreatedAt: at.Add(4 * time.Minute), AttemptedAt: &t2,
			Progress: &JobProgress{Turn: 3, Turns: 6, Benchmark: "Call/n=50", Done: 14}},
		{ID: 62, State: "discarded", Project: "sessioncore", Branch: "feature", Suite: "quick", Trigger: "webhook", Attempt: 3, MaxAttempts: 3, CreatedAt: at.Add(2 * time.Minute), AttemptedAt: &t1, FinalizedAt: &t2,
			Error: "running suite quick at 4f2a9c1: go test: exit status 1: sessioncore_test.go:88: unexpected reply"},
		{ID: 61, State: "completed", Project: "sessioncore", Branch: "main", Suite: "quick", Trigger: "schedule", Attempt: 1, MaxAttempts: 3, CreatedAt: at, AttemptedAt: &t1, FinalizedAt: &t2},
	}, nil
}

// TestStepScenarioInBrowser opens every page over the step scenario in real Chromium and
// checks what the charts and tables say: on the benchmark page the baseline and the threshold
// are mark lines at their exact values inside the y-axis' range, the 95% CI is a band, the
// y-axis labels are in µs; at phone width the verdict is on screen; a 300-character name
// widens no page. It saves the screenshots of docs/ui.md (BENCHD_SCREENSHOTS=dir).
func TestStepScenarioInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	e := newEnv(t, Config{}, &fakeJobs{})
	sc := seedStep(t, e)
	ctx := browser(t)
	nav := func(path string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+path)); err != nil {
			t.Fatalf("opening %s: %v", path, err)
		}
	}
	eval := func(js string, out any) {
		t.Helper()
		var err error
		switch p := out.(type) {
		case *[]string:
			*p, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
		case *[]float64:
			*p, err = chromedp.Run(ctx, chromedp.Evaluate[[]float64](js))
		case *bool:
			*p, err = chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		case *float64:
			*p, err = chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		}
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
	}
	viewport := func(w, h int64) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
			t.Fatal(err)
		}
	}
	scheme := func(s string) {
		t.Helper()
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}}}); err != nil {
			t.Fatal(err)
		}
	}
	noWiderThanViewport := func(page string) {
		t.Helper()
		var w []float64
		eval(`[document.documentElement.scrollWidth, window.innerWidth]`, &w)
		if len(w) == 2 && w[0] > w[1] {
			t.Errorf("on the %s page, the page is %v px wide in a %v px window (a long name widened it)", page, w[0], w[1])
		}
	}
	const chartJS = `echarts.getInstanceByDom(document.getElementById("history_chart"))`
	bench := "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"Create/n=1000"}, "unit": {"sec/op"}}.Encode()
	var baseMedian float64
	for _, v := range sc.Runs[29].Verdicts {
		if v.Name == "Create/n=1000" && v.Unit == "sec/op" {
			baseMedian = v.Value
		}
	}
	if baseMedian == 0 {
		t.Fatal("the baseline run has no Create/n=1000 sec/op")
	}

	// Benchmark page, desktop, light.
	viewport(1280, 900)
	scheme("light")
	nav(bench + "&overlay=feature")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#history_chart canvas"))); err != nil {
		t.Fatal(err)
	}
	// The mark lines: name, value in the display unit, and that value inside the axis' range.
	var marks []string
	eval(`(() => { const o = `+chartJS+`.getOption(); return o.series[0].markLine.data.filter(d => d.yAxis !== undefined).map(d => d.name + "=" + d.yAxis + "=" + d.label.formatter); })()`, &marks)
	for _, want := range []struct {
		name  string
		value float64 // µs
	}{{"baseline main", baseMedian * 1e6}, {"upper limit", stepLimit * 1e6}} {
		found := false
		for _, m := range marks {
			parts := strings.SplitN(m, "=", 3)
			var got float64
			fmt.Sscan(parts[1], &got)
			if parts[0] == want.name && math.Abs(got-want.value) < 1e-9*want.value &&
				strings.HasSuffix(parts[2], runner.FormatValue(want.value/1e6, "sec/op")) {
				found = true
			}
		}
		if !found {
			t.Errorf("the benchmark chart's horizontal mark lines are %q, want %s at %v µs, labelled with its value", marks, want.name, want.value)
		}
	}
	var extent []float64
	eval(chartJS+`.getModel().getComponent("yAxis", 0).axis.scale.getExtent()`, &extent)
	for _, v := range []float64{baseMedian / 1e-6, stepLimit / 1e-6} {
		if len(extent) != 2 || v < extent[0] || v > extent[1] {
			t.Errorf("the y-axis spans %v µs, want it to include the mark line at %v µs", extent, v)
		}
	}
	var labels []string
	eval(chartJS+`.getModel().getComponent("yAxis", 0).axis.getViewLabels().map(l => l.formattedLabel)`, &labels)
	if len(labels) < 3 {
		t.Errorf("the y-axis has labels %q, want several", labels)
	}
	for _, l := range labels {
		if !strings.HasSuffix(l, " µs") {
			t.Errorf("the y-axis label %q is not in µs (labels %q)", l, labels)
		}
	}
	var yname []string
	eval(`[`+chartJS+`.getOption().yAxis[0].name]`, &yname)
	if len(yname) != 1 || yname[0] != "µs/op" {
		t.Errorf("the y-axis is named %q, want µs/op", yname)
	}
	// The 95% CI: a stacked, filled band over every point with an interval, on main and on
	// the overlaid branch.
	var bands []string
	eval(``+chartJS+`.getOption().series.filter(s => s.areaStyle && s.stack).map(s => s.name + ":" + s.data.length)`, &bands)
	if !slices.Contains(bands, fmt.Sprintf("95%% CI:%d", stepRuns)) || !slices.Contains(bands, "95% CI on feature:10") {
		t.Errorf("the chart's filled stacked series are %q, want the 95%% CI band of main's %d runs and of feature's 10", bands, stepRuns)
	}
	// The change point at the step and an alert pin on the same run.
	var cps []float64
	eval(`(() => { const o = `+chartJS+`.getOption(); return o.series[0].markLine.data.filter(d => d.xAxis !== undefined).map(d => d.xAxis); })()`, &cps)
	wantX := float64(time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC).Add(stepAt * time.Hour).UnixMilli())
	if len(cps) == 0 || math.Abs(cps[0]-wantX) > float64(time.Hour.Milliseconds()) {
		t.Errorf("the change-point lines are at %v, want one within a run of the step (%v)", cps, wantX)
	}
	var pins []float64
	eval(`(() => { const o = `+chartJS+`.getOption(); return ((o.series[0].markPoint || {}).data || []).map(d => d.coord[0]); })()`, &pins)
	if !slices.Contains(pins, wantX) {
		t.Errorf("the alert pins are at %v, want one at the step's run (%v)", pins, wantX)
	}
	// The tooltip of the first slow run: value, CI, commit, date, branch, n, verdict and baseline.
	var tip []string
	eval(`(() => { const el = document.getElementById("history_chart"), c = echarts.getInstanceByDom(el);
		c.dispatchAction({type: "showTip", seriesIndex: 0, dataIndex: `+fmt.Sprint(stepAt)+`}); return [el.innerText]; })()`, &tip)
	for _, want := range []string{" µs median", "95% CI ", "commit " + fmt.Sprintf("%07x", 0xa11ce00+stepAt*7919) + " registry: copy the session map on every create", "2026-11-03 00:00 UTC", "main", "n=8", "regressed", "% vs baseline main (run 30) ", " µs"} {
		if len(tip) != 1 || !strings.Contains(tip[0], want) {
			t.Errorf("the tooltip of the first slow run says %q, want %q in it", tip, want)
		}
	}
	eval(chartJS+`.dispatchAction({type: "hideTip"}) || true`, new(bool))
	screenshot(t, ctx, "benchmark")

	nav(bench + "&x=commit")
	chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#history_chart canvas")))
	screenshot(t, ctx, "benchmark-by-commit")
	nav(bench + "&y=log")
	chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#history_chart canvas")))
	var ytype []string
	eval(`[`+chartJS+`.getOption().yAxis[0].type]`, &ytype)
	if len(ytype) != 1 || ytype[0] != "log" {
		t.Errorf("with y=log, the y-axis is %q, want log", ytype)
	}

	// Every page at desktop width, light, then dark; a long name widens none of them.
	last := sc.Runs[len(sc.Runs)-1].RunID
	pages := []struct{ name, path string }{
		{"dashboard", "/"},
		{"run", fmt.Sprintf("/runs/%d", sc.Runs[stepAt].RunID)},
		{"compare", fmt.Sprintf("/compare?old=baseline:main&new=%d", last)},
		{"runs", "/runs"},
		{"alerts", "/alerts"},
		{"jobs", "/jobs"},
		{"benchmark-long-name", "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {longName}, "unit": {"sec/op"}}.Encode()},
	}
	for _, p := range pages {
		nav(p.path)
		noWiderThanViewport(p.name)
		screenshot(t, ctx, p.name)
	}
	scheme("dark")
	for _, p := range []string{"dashboard", "run"} {
		nav(pages[slices.IndexFunc(pages, func(x struct{ name, path string }) bool { return x.name == p })].path)
		screenshot(t, ctx, p+"-dark")
	}
	nav(bench + "&overlay=feature")
	chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#history_chart canvas")))
	var legend []string
	eval(`[`+chartJS+`.getOption().legend[0].textStyle.color]`, &legend)
	if len(legend) != 1 || legend[0] != "#e3e6ea" {
		t.Errorf("in dark mode the legend text is %q, want the page's light text #e3e6ea", legend)
	}
	screenshot(t, ctx, "benchmark-dark")

	// Phone width (390 px): the verdict of the regressed row is on screen, the page does not
	// scroll sideways, and the chart's y labels are inside the chart.
	viewport(390, 844)
	scheme("light")
	nav(fmt.Sprintf("/runs/%d", sc.Runs[stepAt].RunID))
	var rect []float64
	eval(`(() => { const f = document.querySelector('tr[data-status="regressed"] .flag'); if (!f) return [];
		const r = f.getBoundingClientRect(); return [r.left, r.right, r.width, window.innerWidth, document.querySelector("table.results").getBoundingClientRect().width]; })()`, &rect)
	if len(rect) != 5 || rect[2] == 0 || rect[0] < 0 || rect[1] > rect[3] {
		t.Errorf("at 390 px, the regressed row's verdict is not on screen: its left, right, width, the window's width and the table's are %v", rect)
	}
	noWiderThanViewport("run (phone)")
	screenshot(t, ctx, "run-phone")
	for _, p := range []struct{ name, path string }{{"dashboard-phone", "/"}, {"alerts-phone", "/alerts"}, {"benchmark-phone", bench}} {
		nav(p.path)
		noWiderThanViewport(p.name)
		screenshot(t, ctx, p.name)
	}
	scheme("dark")
	nav(bench)
	screenshot(t, ctx, "benchmark-phone-dark")
}
