package web

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium returns the system Chromium, or skips the test when there is none — except in CI
// (CI set, as .ci/run and GitHub Actions do), where a missing browser is a failure: the page
// tests must not pass by not running.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("BENCHD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	const why = "no Chromium (apt-get install chromium, or set BENCHD_CHROMIUM)"
	if os.Getenv("CI") != "" {
		t.Fatal(why + "; CI is set, so the page tests may not be skipped")
	}
	t.Skip(why)
	return ""
}

// browser starts headless Chromium with a fresh profile and no background traffic.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	return ctx
}

// screenshot saves the whole page under $BENCHD_SCREENSHOTS (when set) or the test's temp
// dir; a name ending in "-phone" (or "-phone-dark") saves only the screen, as a phone shows it.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("BENCHD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := chromedp.FullScreenshot(100)
	if strings.Contains(name, "-phone") {
		shot = chromedp.CaptureScreenshot()
	}
	buf, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Error(err)
	}
}

// TestPagesInBrowser opens the pages in real headless Chromium over a database holding a
// regression: the charts draw (an echarts instance with a canvas), the regression is flagged,
// a click on a chart point opens its run, a benchmark named <script>alert(1)</script> is text,
// and every request the pages make goes to benchd itself.
func TestPagesInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	e := newEnv(t, Config{}, nil)
	rep := seedRegression(t, e)
	ctx := browser(t)

	var dialogs atomic.Int32
	events := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for _, err := range events {
			if err != nil {
				return
			}
			dialogs.Add(1)
			chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	chartDrawn := func(id string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#"+id+" canvas"))); err != nil {
			t.Fatalf("waiting for the canvas of #%s: %v", id, err)
		}
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
			`!!(window.echarts && echarts.getInstanceByDom(document.getElementById(%q)) && document.querySelector("#%s canvas").width > 0)`, id, id)))
		if err != nil || !ok {
			t.Errorf("for chart #%s, got instance+canvas %v (%v), want an echarts instance with a canvas", id, ok, err)
		}
	}
	localOnly := func(page string) {
		t.Helper()
		urls, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name).concat([location.href])`))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range urls {
			if !strings.HasPrefix(u, e.ts.URL+"/") {
				t.Errorf("on the %s page, a request left benchd: %s", page, u)
			}
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}

	// Dashboard: the regression is flagged.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/")); err != nil {
		t.Fatal(err)
	}
	chartDrawn("delta_chart")
	if got := text(`tr[data-status="regressed"] a.bench`); !strings.Contains(got, "Create/n=1000") {
		t.Errorf("on the dashboard, the regressed row is %q, want Create/n=1000", got)
	}
	localOnly("dashboard")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("filter"), "Lookup")); err != nil {
		t.Fatal(err)
	}
	visible, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.results tbody tr:not(.group)")].filter(r => !r.hidden).map(r => r.querySelector("a.bench").textContent.trim())`))
	if err != nil {
		t.Fatal(err)
	}
	if len(visible) != 3 || visible[0] != "Lookup" {
		t.Errorf("after filtering the dashboard by Lookup, got rows %q, want the 3 Lookup results", visible)
	}

	// Run page: flagged, the markup-named benchmark shown as text.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/runs/%d", e.ts.URL, rep.RunID))); err != nil {
		t.Fatal(err)
	}
	chartDrawn("delta_chart")
	if got := text(`tr[data-status="regressed"] a.bench`); !strings.Contains(got, "Create/n=1000") {
		t.Errorf("on the run page, the regressed row is %q, want Create/n=1000", got)
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("a.bench")].map(a => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(names, "\n"), "X"+xssName) {
		t.Errorf("on the run page, benchmark names are %q, want %q as text", names, "X"+xssName)
	}
	localOnly("run")

	// Benchmark page: the history draws with the alert; a click on a point opens its run.
	bench := e.ts.URL + "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"Create/n=1000"}, "unit": {"sec/op"}}.Encode()
	if err := chromedp.Do(ctx, chromedp.Navigate(bench)); err != nil {
		t.Fatal(err)
	}
	chartDrawn("history_chart")
	localOnly("benchmark")
	xy, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const el = document.getElementById("history_chart"), c = echarts.getInstanceByDom(el);
		const d = c.getOption().series[0].data, last = d[d.length - 1];
		const p = c.convertToPixel({seriesIndex: 0}, last.value);
		const r = el.getBoundingClientRect();
		return [r.left + p[0], r.top + p[1]];
	})()`))
	if err != nil || len(xy) != 2 {
		t.Fatalf("locating the last point: %v %v", xy, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.MouseClickXY(xy[0], xy[1]))); err != nil {
		t.Fatalf("clicking the last point: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, fmt.Sprintf("/runs/%d", rep.RunID)) {
		t.Errorf("after a click on the last point, got location %q (%v), want run %d", loc, err, rep.RunID)
	}

	// The same history by commit: a category axis of the commits in run order, a tooltip with
	// commit, run, n and p, and a click on a point opens its run.
	if err := chromedp.Do(ctx, chromedp.Navigate(bench+"&x=commit")); err != nil {
		t.Fatal(err)
	}
	chartDrawn("history_chart")
	axis, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const x = echarts.getInstanceByDom(document.getElementById("history_chart")).getOption().xAxis[0];
		return [x.type].concat(x.data);
	})()`))
	if err != nil || strings.Join(axis, " ") != "category c111111 c222222" {
		t.Errorf("with x=commit, got x-axis %q (%v), want a category axis of commits c111111 c222222", axis, err)
	}
	tip, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const el = document.getElementById("history_chart"), c = echarts.getInstanceByDom(el);
		c.dispatchAction({type: "showTip", seriesIndex: 0, dataIndex: 1});
		return el.innerText;
	})()`))
	for _, want := range []string{fmt.Sprintf("run %d", rep.RunID), "commit c2", "n=8", "p=0.000", "regressed", "+200.0% vs history of main (run 1) 30.63 µs"} {
		if err != nil || !strings.Contains(tip, want) {
			t.Errorf("the tooltip of the last point says %q (%v), want %q in it", tip, err, want)
		}
	}
	xy, err = chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const el = document.getElementById("history_chart"), c = echarts.getInstanceByDom(el);
		c.dispatchAction({type: "hideTip"});
		const d = c.getOption().series[0].data, last = d[d.length - 1];
		const p = c.convertToPixel({seriesIndex: 0}, last.value);
		const r = el.getBoundingClientRect();
		return [r.left + p[0], r.top + p[1]];
	})()`))
	if err != nil || len(xy) != 2 {
		t.Fatalf("locating the last point on the commit axis: %v %v", xy, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.MouseClickXY(xy[0], xy[1]))); err != nil {
		t.Fatalf("clicking the last point on the commit axis: %v", err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, fmt.Sprintf("/runs/%d", rep.RunID)) {
		t.Errorf("after a click on the last commit, got location %q (%v), want run %d", loc, err, rep.RunID)
	}

	// The markup-named benchmark's own page.
	xss := e.ts.URL + "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"X" + xssName}, "unit": {"sec/op"}}.Encode()
	if err := chromedp.Do(ctx, chromedp.Navigate(xss)); err != nil {
		t.Fatal(err)
	}
	chartDrawn("history_chart")
	if got := text("h1.bench-name"); got != "X"+xssName {
		t.Errorf("on the benchmark page, the title is %q, want the name as text", got)
	}

	// Alerts page: acknowledge the regression with a token, then a 404 page.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/alerts")); err != nil {
		t.Fatal(err)
	}
	ackSel := fmt.Sprintf("#alert-%d button.ack", rep.Alerts[0])
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("token"), e.token),
		chromedp.Click(chromedp.CSS(ackSel)),
		chromedp.WaitNotPresent(chromedp.CSS(ackSel)),
	); err != nil {
		t.Fatalf("acknowledging from the alerts page: %v", err)
	}
	if got := text(fmt.Sprintf("#alert-%d td.status", rep.Alerts[0])); got != "acknowledged" {
		t.Errorf("after acknowledging, the status cell says %q, want acknowledged", got)
	}
	var acked struct{ Alerts []AlertView }
	e.api(t, "GET", "/api/v1/projects/sessioncore/alerts?status=acknowledged", e.token, "", "", &acked)
	if len(acked.Alerts) != 1 || acked.Alerts[0].ID != rep.Alerts[0] {
		t.Errorf("after acknowledging from the page, the API lists %+v as acknowledged, want alert %d", acked.Alerts, rep.Alerts[0])
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/runs/999999")); err != nil {
		t.Fatal(err)
	}
	if got := text("h1"); !strings.Contains(got, "404") {
		t.Errorf("for an unknown run, the page says %q, want 404", got)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("got %d JavaScript dialogs, want none (a benchmark name ran as script)", n)
	}
}
